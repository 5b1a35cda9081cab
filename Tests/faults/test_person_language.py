"""The person's language and the help near them, against the real binary: the words of every language understood by
text, the answers in the session's language, `info` answered with the nearest resources, the page after the session
ends, and the referrals a follow-up records (docs/contract.md, "Language" and "Resources and referrals")."""
import json, os, re, tempfile, time, urllib.request
import fault_harness as fh
from test_inbound_sms import SMS, TWILIO_TOKEN, state, wait_state

RESOURCES = """
resources:
  - {id: near, name: "Clinica Cercana", kind: treatment, phone: "555-0101", latitude: 39.79, longitude: -89.65,
     region: IL, country: US, languages: [en, es, fr]}
  - {id: mid, name: "Centre Moyen", kind: harm_reduction, phone: "555-0102", latitude: 39.84, longitude: -88.95,
     region: IL, country: US}
  - {id: far, name: "Far Place", kind: testing, phone: "555-0103", latitude: 41.88, longitude: -87.63,
     region: IL, country: US}
  - {id: region-line, name: "Region Line", kind: crisis_line, phone: "555-0104", region: IL, country: US}
  - {id: other-state, name: "Other State", kind: crisis_line, phone: "555-0105", region: OH, country: US}
  - {id: mail, name: "Naloxone Mail", kind: naloxone, url: "https://mail.example", country: US, by_mail: true}
"""


def catalog(lang):
    """The built-in texts of `lang`, read from the catalog's source."""
    path = os.path.join(fh.ROOT, "Sources", "VigilCore", f"TextCatalog+{lang}.swift")
    out = {}
    for k, v in re.findall(r'^\s*"([a-z_.]+)":\s*"((?:[^"\\]|\\.)*)",$', open(path).read(), re.M):
        out[k] = v.replace('\\"', '"').replace("\\\\", "\\")
    return out


def server(vigils, name, extra="", receiver=None):
    port = fh.free_port()
    work = tempfile.mkdtemp(prefix="vigil-person-")
    with open(os.path.join(work, "resources.yaml"), "w") as f:
        f.write(RESOURCES)
    targets = f'  ems: {{url: "{receiver.url("/ems")}", format: json, secret_env: FAULT_SECRET}}' if receiver else ""
    policy = "{ack_timeout_s: 60, steps: [{after_s: 600, dispatch: [ems]}]}" if receiver else "{ack_timeout_s: 60, steps: []}"
    cfg = fh.yaml_config(
        port, "data", targets=targets, policy="default: " + policy,
        extra=f'public_url: "http://127.0.0.1:{port}/"\nsms: {{provider: twilio, auth_token_env: TWILIO_TOKEN}}\n'
              'hotline: {callback_number: "+18005550100"}\nresources: {file: resources.yaml}\n' + extra)
    v = vigils(cfg, name=name, env={"TWILIO_TOKEN": TWILIO_TOKEN}, workdir=work)
    return v.start()


def begin(v, number, **extra):
    return v.start_session(interval=600, grace=60, caller={"alias": "J", "callback_number": number}, **extra)


def message(body):
    m = re.search(r"<Message>(.*)</Message>", body, re.S)
    return m and m.group(1).replace("&amp;", "&").replace("&lt;", "<").replace("&gt;", ">")


def test_the_words_of_every_language_check_in_or_dispatch_and_the_answer_speaks_the_sessions_language(
        vigils, receiver):
    v = server(vigils, "person-words", receiver=receiver)
    sms = SMS(v)
    es, fr = catalog("es"), catalog("fr")
    for word, lang, number in [("estoy bien", "es", "+15551230001"), ("Sí", "es", "+15551230002"),
                               ("ça va", "fr", "+15551230003"), ("CA VA!", "fr", "+15551230004"),
                               ("je vais bien", "fr", "+15551230005"), ("ok", "en", "+15551230006")]:
        s = begin(v, number, language=lang, check_in_interval_s=1)
        wait_state(v, s["id"], "overdue")
        status, body, _ = sms.send(number, word)
        assert status == 200, body
        assert wait_state(v, s["id"], "active")["language"] == lang
        assert message(body) == catalog(lang)["sms.confirmed"], (word, body)
    assert es["sms.confirmed"] != fr["sms.confirmed"]

    for word, number in [("ayuda", "+15551230011"), ("AIDE", "+15551230012"), ("auxilio", "+15551230013"),
                         ("au secours", "+15551230014")]:
        s = begin(v, number, language="es")
        assert sms.send(number, word)[0] == 200
        assert state(v, s["id"])["dispatch"]["requested_by"] == "sms", word
    assert len(receiver.wait_for("/ems", 4, timeout=10)) == 4


def test_info_is_answered_with_the_three_nearest_in_the_sessions_language(vigils):
    v = server(vigils, "person-info")
    sms = SMS(v)
    begin(v, "+15551230021", language="es")
    status, body, _ = sms.send("+15551230021", "recursos")
    assert status == 200
    want = catalog("es")["sms.resources"].replace(
        "{list}", "Clinica Cercana: 555-0101; Centre Moyen: 555-0102; Far Place: 555-0103")
    assert message(body) == want, body
    begin(v, "+15551230022", language="fr", location={"address": "1 rue X", "region": "IL", "country": "US"})
    status, body, _ = sms.send("+15551230022", "Info")
    # Without coordinates: the region's, by name, those speaking French first.
    assert message(body) == catalog("fr")["sms.resources"].replace(
        "{list}", "Clinica Cercana: 555-0101; Centre Moyen: 555-0102; Far Place: 555-0103"), body
    begin(v, "+15551230023", language="en", location={"address": "1 Main", "region": "QC", "country": "CA"})
    status, body, _ = sms.send("+15551230023", "ressources")
    assert message(body) == catalog("en")["sms.resources_none"], body


def test_an_unsupported_language_is_a_400_naming_the_supported_ones_and_the_hotline_default_applies(vigils):
    v = server(vigils, "person-language")
    for bad in ["de", "EN", "", 3, ["es"]]:
        status, err = v.call("POST", "/v1/sessions", {"location": {"address": "x"}, "check_in_interval_s": 60,
                                                      "language": bad})
        assert status == 400 and err["error"]["message"] == "language must be one of en, es, fr", (bad, err)
    s = begin(v, "+15551230031")
    assert s["language"] == "en"
    status, err = v.call("PATCH", f"/v1/sessions/{s['id']}", {"language": "it"})
    assert status == 400 and "en, es, fr" in err["error"]["message"]
    status, patched = v.call("PATCH", f"/v1/sessions/{s['id']}", {"language": "fr"})
    assert status == 200 and patched["language"] == "fr"
    assert any(e["type"] == "session.updated" and "language" in e["data"]["fields"]
               for e in state(v, s["id"])["events"])


def test_the_hotline_language_is_the_default(vigils):
    port = fh.free_port()
    cfg = fh.yaml_config(port, "data", extra='hotline: {language: es}')
    v = vigils(cfg, name="person-default").start()
    s = v.start_session(interval=600, grace=60)
    assert s["language"] == "es"
    assert v.start_session(interval=600, grace=60, language="fr")["language"] == "fr"


def page(url):
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def test_the_page_keeps_help_near_you_after_the_end_and_follow_ups_carry_and_record_referrals(vigils):
    v = server(vigils, "person-after", extra="retention: {ended_session_days: 1}\n")
    s = begin(v, "+15551230041", language="fr", location={
        "address": "123 Main St", "latitude": 39.7817, "longitude": -89.6501, "region": "IL", "country": "US"})
    link = s["check_in_url"]
    status, html = page(link)
    assert status == 200 and '<html lang=fr>' in html
    fr = catalog("fr")
    assert fr["resources.heading"] in html
    # Nearest first, then the by-mail entry; never another state's.
    order = [html.index(n) for n in ["Clinica Cercana", "Centre Moyen", "Far Place", "Region Line", "Naloxone Mail"]]
    assert order == sorted(order) and "Other State" not in html

    assert v.call("POST", f"/v1/sessions/{s['id']}/end", {"outcome": "ems_attended"})[0] == 200
    time.sleep(1.1)  # the ended-session lookup runs at most once a second
    status, html = page(link)
    assert status == 200 and fr["page.ended"] in html and "Clinica Cercana" in html and "Naloxone Mail" in html

    # The follow-up offers the five nearest; its close records the referrals, counted by kind.
    status, body = v.call("GET", "/v1/follow-ups")
    item = next(f for f in body["follow_ups"] if f["session_id"] == s["id"])
    assert item["resources"] == ["near", "mid", "far", "region-line", "mail"], item
    status, err = v.call("POST", f"/v1/follow-ups/{item['id']}/close",
                         {"outcome": "revived", "referrals": ["nowhere"]})
    assert status == 400 and "nowhere" in err["error"]["message"]
    status, closed = v.call("POST", f"/v1/follow-ups/{item['id']}/close",
                            {"outcome": "revived", "referrals": ["near", "mail", "mid"]})
    assert status == 200 and closed["referrals"] == ["near", "mail", "mid"], closed
    report = v.call("GET", "/v1/reports/summary")[1]
    assert report["referrals"] == {"treatment": 1, "naloxone": 1, "harm_reduction": 1}, report


def test_a_link_never_issued_gets_the_by_mail_help_and_the_hotlines_number(vigils):
    v = server(vigils, "person-unknown")
    status, html = page(v.base + "/c/" + "a" * 32)
    assert status == 404 and "Naloxone Mail" in html and "+18005550100" in html
    assert "Clinica Cercana" not in html


def test_a_french_sessions_responder_gets_the_request_and_the_page_in_french(vigils, receiver):
    port = fh.free_port()
    targets = f'  gw: {{url: "{receiver.url("/gw")}", format: json, secret_env: FAULT_SECRET}}'
    policy = "default: {ack_timeout_s: 60, steps: [{after_s: 0, contact: responders, via: gw, answer_s: 60}]}"
    v = vigils(fh.yaml_config(port, "data", targets, policy, extra=f'public_url: "http://127.0.0.1:{port}"'),
               name="person-responder").start()
    fr = catalog("fr")
    v.start_session(interval=1, grace=0, language="fr",
                    responders=[{"name": "Sam", "phone": "+15557654321"}])
    got = json.loads(receiver.wait_for("/gw", 1, timeout=15, type_="responder.requested")[0]["body"])["data"]
    assert got["language"] == "fr"
    assert got["message"] == (
        fr["sms.responder_requested"].replace("{name}", "Sam").replace("{alias}", "J")
        .replace("{address}", "123 Main St, logement 4B").replace("{link}", got["responder_url"])), got["message"]
    assert "side door" not in got["message"], "never the access notes in a text"
    status, html = page(got["responder_url"])
    assert status == 200 and "<html lang=fr>" in html
    for key in ["responder.going", "responder.ok", "responder.ems", "responder.small"]:
        assert fr[key] in html, key
    assert fr["responder.heading"].replace("{alias}", "J") in html
