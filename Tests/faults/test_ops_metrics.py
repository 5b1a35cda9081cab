"""Vigil's metrics as Prometheus sees them, scraped from the real binary, and the operations files built on them:
the alerting rules (promtool) and the Grafana dashboard name only metrics the service exports, in the right types."""
import json, os, re, shutil, subprocess, tempfile, time
import pytest
import yaml
import fault_harness as fh

METRICS_TOKEN = "fault-metrics-token-0123456789abcdef"
RULES = os.path.join(fh.ROOT, "ops", "prometheus", "vigil-rules.yml")
RULES_TEST = os.path.join(fh.ROOT, "ops", "prometheus", "vigil-rules.test.yml")
DASHBOARD = os.path.join(fh.ROOT, "ops", "grafana", "vigil-dashboard.json")

# Every family the service exports, with its type. A change here is a change for every operator's alerts and
# dashboards: say it in the release notes.
FAMILIES = {
    "vigil_ready": "gauge",
    "vigil_watchdog_ok": "gauge",
    "vigil_open_sessions": "gauge",
    "vigil_sessions": "gauge",
    "vigil_scheduler_pending_deadlines": "gauge",
    "vigil_deadline_overdue_seconds": "gauge",
    "vigil_deadline_lateness_seconds": "histogram",
    "vigil_event_stream_clients": "gauge",
    "vigil_events_total": "counter",
    "vigil_delivery_attempts_total": "counter",
    "vigil_delivery_target_failures_total": "counter",
    "vigil_alarm_delivery_failures_total": "counter",
    "vigil_delivery_attempt_duration_seconds": "histogram",
    "vigil_delivery_in_flight_notifications": "gauge",
    "vigil_outbox_pending_notifications": "gauge",
    "vigil_outbox_overdue_seconds": "gauge",
    "vigil_clock_skew_seconds": "gauge",
    "vigil_deadline_to_notify_seconds": "histogram",
    "vigil_deadline_to_dispatch_seconds": "histogram",
}
# Exported by the operator console's part of the service (connected consoles, unattended alarms); the rules watch
# them already, and their own promtool tests feed them by hand.
CONSOLE_FAMILIES = {"vigil_console_connected": "gauge", "vigil_unattended_alarms_total": "counter"}
# Label names a summary may show: none of them can carry personal data.
SAFE_LABELS = {"instance", "job", "target", "type", "state", "result"}


def promtool():
    tool = shutil.which("promtool")
    if tool is None:
        if os.environ.get("CI"):
            pytest.fail("promtool is missing: apt-get install prometheus (scripts/setup-debian.sh --test installs it)")
        pytest.skip("promtool is missing (apt-get install prometheus); under CI=true this fails")
    return tool


def parse(text):
    """The exposition text as {family: {"type", "help", "samples": [(name, labels, value)]}}."""
    families, current = {}, None
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ", 3)
            families.setdefault(name, {"samples": []})["type"] = kind
            current = name
        elif line.startswith("# HELP "):
            _, _, name, help_ = (line.split(" ", 3) + [""])[:4]
            families.setdefault(name, {"samples": []})["help"] = help_
        elif line and not line.startswith("#"):
            m = re.match(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$', line)
            assert m, f"not a sample line: {line!r}"
            name, labels, value = m.group(1), m.group(3) or "", float(m.group(4))
            labels = dict(re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"', labels))
            family = name
            for suffix in ("_bucket", "_sum", "_count"):
                if name.endswith(suffix) and name[: -len(suffix)] in families:
                    family = name[: -len(suffix)]
            assert family in families, f"sample {name} has no # TYPE line"
            assert family == current or family in families
            families[family]["samples"].append((name, labels, value))
    return families


def value(families, name, **labels):
    family = name
    for suffix in ("_bucket", "_sum", "_count"):
        if name.endswith(suffix) and name[: -len(suffix)] in families:
            family = name[: -len(suffix)]
    hits = [v for n, l, v in families[family]["samples"] if n == name and all(l.get(k) == w for k, w in labels.items())]
    assert len(hits) == 1, (name, labels, hits)
    return hits[0]


@pytest.fixture(scope="module")
def scraped():
    """One real instance that has delivered through a good target after a failing one, scraped with a metrics
    token: (the parsed families, the raw text, the session it ran)."""
    receiver = fh.Receiver()
    receiver.set("/bad", 500)
    targets = f"""  bad: {{url: "{receiver.url('/bad')}", format: json, secret_env: FAULT_SECRET, timeout_s: 2, retry: {{max_attempts: 2, initial_backoff_s: 0.1, max_backoff_s: 0.2}}}}
  good: {{url: "{receiver.url('/good')}", format: json, secret_env: FAULT_SECRET, timeout_s: 2}}"""
    policy = "default: {ack_timeout_s: 5, steps: [{after_s: 600, dispatch: [bad, good]}]}"
    config = fh.yaml_config(0, "data", targets, policy).replace(
        "    - {name: console, role: operator, token_env: FAULT_TOKEN}",
        "    - {name: console, role: operator, token_env: FAULT_TOKEN}\n"
        "    - {name: prometheus, role: metrics, token_env: FAULT_METRICS}")
    v = fh.Vigil(config, name="metrics", env={"FAULT_METRICS": METRICS_TOKEN}).start()
    try:
        s = v.start_session(interval=3600, address="77 Quiet Lane", caller={"alias": "Robin", "callback_number": "+15559870000"})
        assert v.call("POST", f"/v1/sessions/{s['id']}/dispatch", {})[0] == 202
        receiver.wait_for("/good", 1, timeout=20)
        end = time.time() + 10
        while time.time() < end:
            status, text = v.call("GET", "/metrics", token=METRICS_TOKEN)
            assert status == 200, (status, text)
            text = text.decode() if isinstance(text, bytes) else text
            families = parse(text)
            if (value(families, "vigil_delivery_attempts_total", target="good", result="delivered") >= 1
                    and value(families, "vigil_sessions", state="dispatched") == 1):
                break
            time.sleep(0.1)
        yield families, text, s
    finally:
        v.stop()
        receiver.close()


def test_every_family_has_the_documented_type_and_a_help_text(scraped):
    families, _, _ = scraped
    exported = {name: f.get("type") for name, f in families.items()}
    assert {n: t for n, t in exported.items() if n in FAMILIES} == FAMILIES
    extra = {n: t for n, t in exported.items() if n not in FAMILIES}
    assert extra.items() <= CONSOLE_FAMILIES.items(), f"families not documented here: {extra}"
    for name, f in families.items():
        assert f.get("help"), f"{name} has no # HELP"


def test_names_follow_the_prometheus_conventions(scraped):
    families, _, _ = scraped
    for name, f in families.items():
        assert re.fullmatch(r"vigil_[a-z][a-z0-9_]*", name), name
        assert not re.search(r"_(ms|millis|milliseconds|us|minutes|hours)(_|$)", name), f"{name}: use base units"
        if f["type"] == "counter":
            assert name.endswith("_total"), f"counter {name} must end in _total"
        else:
            assert not name.endswith("_total"), f"{f['type']} {name} must not end in _total: a running total is a counter"
        if f["type"] == "histogram":
            assert name.endswith("_seconds"), f"histogram {name} must be in seconds"
            names = {n for n, _, _ in f["samples"]}
            assert {name + "_bucket", name + "_sum", name + "_count"} <= names, name
            assert any(n == name + "_bucket" and l.get("le") == "+Inf" for n, l, _ in f["samples"]), name
        for sample, labels, _ in f["samples"]:
            assert set(labels) <= SAFE_LABELS | {"le"}, (sample, labels)


def test_counters_count_what_happened_by_target_and_result(scraped):
    families, _, _ = scraped
    # The failing target: one attempt retried, the second its last; the good one took the dispatch on its first.
    assert value(families, "vigil_delivery_attempts_total", target="bad", result="retry") == 1
    assert value(families, "vigil_delivery_attempts_total", target="bad", result="failed") == 1
    assert value(families, "vigil_delivery_target_failures_total", target="bad") == 1
    assert value(families, "vigil_delivery_attempts_total", target="good", result="delivered") == 1
    assert value(families, "vigil_delivery_attempts_total", target="good", result="failed") == 0
    assert value(families, "vigil_delivery_target_failures_total", target="good") == 0
    assert value(families, "vigil_delivery_attempt_duration_seconds_count", target="good") == 1
    assert value(families, "vigil_delivery_attempt_duration_seconds_count", target="bad") == 2
    assert value(families, "vigil_events_total", type="session.started") == 1
    assert value(families, "vigil_events_total", type="dispatch.requested") == 1
    assert value(families, "vigil_events_total", type="delivery.failed") == 0
    assert value(families, "vigil_open_sessions") == 1
    assert value(families, "vigil_sessions", state="dispatched") == 1
    assert value(families, "vigil_sessions", state="active") == 0
    assert value(families, "vigil_ready") == 1
    assert value(families, "vigil_outbox_overdue_seconds") == 0
    assert value(families, "vigil_deadline_overdue_seconds") == 0
    assert abs(value(families, "vigil_clock_skew_seconds")) < 2


def test_no_personal_data_reaches_the_metrics(scraped):
    _, text, s = scraped
    for secret in ("77 Quiet Lane", "Robin", "+15559870000", "5559870000", "side door", "naloxone", s["id"]):
        assert secret not in text


def metric_names(expr):
    """The metric names a PromQL expression reads."""
    expr = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    expr = re.sub(r"\{[^}]*\}", "", expr)
    expr = re.sub(r"\[[^\]]*\]", "", expr)
    expr = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", expr)
    words = set(re.findall(r"\b([a-zA-Z_:][a-zA-Z0-9_:]*)\b(?!\s*\()", expr))
    keywords = {"and", "or", "unless", "by", "without", "on", "ignoring", "offset", "bool", "inf", "nan"}
    return {w for w in words if w.lower() not in keywords and not re.fullmatch(r"[0-9.e]+", w)}


def family_of(name, exported):
    for suffix in ("_bucket", "_sum", "_count"):
        if name.endswith(suffix) and exported.get(name[: -len(suffix)]) == "histogram":
            return name[: -len(suffix)]
    return name


def test_the_shipped_rules_pass_promtool_check_and_their_unit_tests():
    tool = promtool()
    r = subprocess.run([tool, "check", "rules", RULES], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "SUCCESS" in r.stdout
    r = subprocess.run([tool, "test", "rules", os.path.basename(RULES_TEST)], capture_output=True, text=True,
                       cwd=os.path.dirname(RULES_TEST))
    assert r.returncode == 0, r.stdout + r.stderr
    assert "SUCCESS" in r.stdout


def test_promtool_test_rules_fails_when_a_rule_loses_its_for(tmp_path):
    """The unit tests can fail: the same tests against rules whose `for:` is gone report the early alert."""
    tool = promtool()
    text = open(RULES).read().replace("expr: vigil_ready == 0\n        for: 1m", "expr: vigil_ready == 0\n        for: 0m")
    assert "for: 0m" in text
    (tmp_path / "vigil-rules.yml").write_text(text)
    shutil.copy(RULES_TEST, tmp_path / "vigil-rules.test.yml")
    r = subprocess.run([tool, "test", "rules", "vigil-rules.test.yml"], capture_output=True, text=True, cwd=tmp_path)
    assert r.returncode != 0
    assert "VigilNotReady" in r.stdout + r.stderr


def test_every_alert_has_a_for_a_severity_and_a_summary_without_personal_labels(scraped):
    families, _, _ = scraped
    exported = dict(FAMILIES, **CONSOLE_FAMILIES)
    alerts = [r for g in yaml.safe_load(open(RULES))["groups"] for r in g["rules"] if "alert" in r]
    names = {a["alert"] for a in alerts}
    for wanted in ("VigilDown", "VigilNotReady", "VigilDeadlineLate", "VigilDeliveryFailed", "VigilTargetFailing",
                   "VigilOutboxStalled", "VigilOutboxGrowing", "VigilUnattended", "VigilClockDrift"):
        assert wanted in names
    for a in alerts:
        assert "for" in a, a["alert"]
        assert a["labels"]["severity"] in ("critical", "warning"), a["alert"]
        assert a["annotations"].get("summary"), a["alert"]
        for text in a["annotations"].values():
            for label in re.findall(r"\$labels\.([a-zA-Z_]+)", text):
                assert label in SAFE_LABELS, (a["alert"], label)
        for name in metric_names(a["expr"]):
            if name == "up":
                continue
            assert family_of(name, exported) in exported, (a["alert"], name)
            if name in FAMILIES:
                assert name in families, f"{a['alert']} reads {name}, which the service does not export"


def dashboard_exprs(d):
    for p in d["panels"]:
        for t in p.get("targets", []):
            yield p["title"], t["expr"]
        for inner in p.get("panels", []):
            for t in inner.get("targets", []):
                yield inner["title"], t["expr"]


def test_the_dashboard_reads_only_metrics_the_service_exports(scraped):
    families, _, _ = scraped
    exported = {n: f["type"] for n, f in families.items()}
    d = json.load(open(DASHBOARD))
    assert d["uid"] and d["title"]
    ids = [p["id"] for p in d["panels"]]
    assert len(ids) == len(set(ids)), "panel ids must be unique"
    exprs = list(dashboard_exprs(d))
    assert len(exprs) >= 15
    used = set()
    for title, expr in exprs:
        names = metric_names(expr)
        assert names, (title, expr)
        for name in names:
            family = family_of(name, exported)
            assert family in exported, f"panel {title!r} reads {name}, which the service does not export"
            used.add(family)
    variables = [v.get("definition", "") for v in d["templating"]["list"] if v["type"] == "query"]
    for definition in variables:
        for name in re.findall(r"label_values\((\w+)", definition):
            assert name in exported, definition
    # Most of what the service exports is on a panel.
    assert len(used) >= len(FAMILIES) - 2, set(FAMILIES) - used


def test_every_dashboard_expression_is_valid_promql(tmp_path):
    tool = promtool()
    d = json.load(open(DASHBOARD))
    rules = [{"record": f"dashboard:expr_{i}", "expr": expr.replace("$instance", ".*")}
             for i, (_, expr) in enumerate(dashboard_exprs(d))]
    path = tmp_path / "dashboard-exprs.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    r = subprocess.run([tool, "check", "rules", str(path)], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
