// A small accessibility checker, run in the page by the browser tests (axe-core is not packaged for PyPI or
// Debian here). It checks the rules that matter most to an operator under stress, with axe's impact words:
// names of form controls, buttons, links and pictures; the document's language and title; one main landmark;
// named dialogs; unique ids; and the contrast of every visible piece of text against its background (WCAG AA).
// Returns a list of {rule, impact, where, detail}.
return (function () {
  "use strict";
  const found = [];
  const report = (rule, impact, el, detail) => found.push({
    rule, impact, detail: detail || "",
    where: el ? (el.tagName.toLowerCase() + (el.id ? "#" + el.id : "") +
      (el.className && typeof el.className === "string" ? "." + el.className.trim().split(/\s+/).join(".") : "") +
      (el.dataset && el.dataset.action ? "[data-action=" + el.dataset.action + "]" : "")) : "document",
  });

  function visible(el) {
    if (!el.getClientRects().length) return false;
    for (let e = el; e && e.nodeType === 1; e = e.parentElement) {
      const cs = getComputedStyle(e);
      if (cs.display === "none" || cs.visibility === "hidden") return false;
      if (e.tagName === "DIALOG" && !e.open) return false;
    }
    return true;
  }

  function textOf(el) { return (el.textContent || "").replace(/\s+/g, " ").trim(); }

  function labelledBy(el) {
    const ids = (el.getAttribute("aria-labelledby") || "").split(/\s+/).filter(Boolean);
    return ids.map((id) => document.getElementById(id)).filter(Boolean).map(textOf).join(" ").trim();
  }

  function name(el) {
    const aria = (el.getAttribute("aria-label") || "").trim();
    if (aria) return aria;
    const lb = labelledBy(el);
    if (lb) return lb;
    if (el.id) {
      const l = document.querySelector('label[for="' + CSS.escape(el.id) + '"]');
      if (l && textOf(l)) return textOf(l);
    }
    const wrap = el.closest("label");
    if (wrap && textOf(wrap)) return textOf(wrap);
    return (el.getAttribute("title") || "").trim();
  }

  // Document.
  if (!document.documentElement.getAttribute("lang")) report("html-has-lang", "serious", null, "no lang on <html>");
  if (!document.title.trim()) report("document-title", "serious", null, "empty <title>");
  const mains = [...document.querySelectorAll("main, [role=main]")].filter(visible);
  if (mains.length !== 1) report("landmark-one-main", "serious", null, mains.length + " visible main landmarks");

  // Form controls.
  for (const el of document.querySelectorAll("input, select, textarea")) {
    if (!visible(el) || ["hidden", "submit", "button", "reset"].includes(el.type)) continue;
    if (!name(el)) report("label", "serious", el, "a form control without a label");
  }
  // Buttons and links.
  for (const el of document.querySelectorAll("button, a[href], [role=button]")) {
    if (!visible(el)) continue;
    if (!textOf(el) && !name(el)) report("button-name", "serious", el, "no accessible name");
  }
  // Pictures.
  for (const el of document.querySelectorAll("img, svg[role=img], [role=img]")) {
    if (!visible(el)) continue;
    const t = el.tagName === "svg" ? el.querySelector("title") : null;
    if (!(el.getAttribute("alt") || name(el) || (t && textOf(t)))) report("image-alt", "serious", el, "a picture without a name");
  }
  // Open dialogs.
  for (const el of document.querySelectorAll("dialog[open]")) {
    if (!name(el)) report("aria-dialog-name", "serious", el, "an open dialog without a name");
  }
  // Unique ids.
  const seen = new Map();
  for (const el of document.querySelectorAll("[id]")) {
    if (seen.has(el.id)) report("duplicate-id", "serious", el, "id used twice: " + el.id);
    seen.set(el.id, true);
  }

  // Contrast.
  function rgba(s) {
    const m = s && s.match(/rgba?\(([^)]+)\)/);
    if (!m) return null;
    const p = m[1].split(/[,\s/]+/).filter(Boolean).map(Number);
    return { r: p[0], g: p[1], b: p[2], a: p.length > 3 ? p[3] : 1 };
  }
  function lum(c) {
    const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
    return 0.2126 * f(c.r) + 0.7152 * f(c.g) + 0.0722 * f(c.b);
  }
  function background(el) {
    for (let e = el; e && e.nodeType === 1; e = e.parentElement) {
      const cs = getComputedStyle(e);
      if (cs.backgroundImage && cs.backgroundImage !== "none") return null;  // cannot judge a picture
      const c = rgba(cs.backgroundColor);
      if (c && c.a >= 0.99) return c;
      if (c && c.a > 0) return null;  // translucent: not judged
    }
    return { r: 255, g: 255, b: 255, a: 1 };
  }
  const checked = new Set();
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    if (!n.textContent.trim()) continue;
    const el = n.parentElement;
    if (!el || checked.has(el) || !visible(el)) continue;
    checked.add(el);
    const cs = getComputedStyle(el);
    const inSvg = el instanceof SVGElement;
    const fg = rgba(inSvg ? cs.fill : cs.color);
    const bg = background(inSvg ? el.ownerSVGElement.parentElement : el);
    if (!fg || !bg || fg.a < 0.99) continue;
    const l1 = lum(fg), l2 = lum(bg);
    const ratio = (Math.max(l1, l2) + 0.05) / (Math.min(l1, l2) + 0.05);
    const size = parseFloat(cs.fontSize);
    const bold = Number(cs.fontWeight) >= 700 || cs.fontWeight === "bold";
    const large = size >= 24 || (size >= 18.66 && bold);
    const need = large ? 3 : 4.5;
    if (ratio + 1e-6 < need) {
      report("color-contrast", "serious", el, "contrast " + ratio.toFixed(2) + " < " + need + " for \"" +
        textOf(el).slice(0, 40) + "\"");
    }
  }
  // Structure, with axe's "moderate" impact: a level-one heading, and every visible text inside a landmark.
  if (![...document.querySelectorAll("h1, [role=heading][aria-level='1']")].some(visible)) {
    report("page-has-heading-one", "moderate", null, "no visible level-one heading");
  }
  const landmarks = "main, nav, header, footer, aside, section[aria-label], section[aria-labelledby], dialog, " +
    "form[aria-label], [role=main], [role=navigation], [role=banner], [role=contentinfo], [role=complementary], " +
    "[role=region], [role=dialog], [role=alertdialog]";
  const texts = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let n = texts.nextNode(); n; n = texts.nextNode()) {
    const el = n.parentElement;
    if (!n.textContent.trim() || !el || !visible(el) || el.closest(landmarks)) continue;
    report("region", "moderate", el, "text outside every landmark: \"" + textOf(el).slice(0, 40) + "\"");
  }
  return found;
})();
