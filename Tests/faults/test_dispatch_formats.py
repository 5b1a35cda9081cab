"""What a dispatcher receives: the real binary, a real SQLite file and a real loopback receiver; every
dispatch body validated against its published schema (CAP 1.2 XSD, NENA EIDO)."""
import json, os, re, subprocess, time
import pytest
import fault_harness as fh
import dispatch_schemas

GOLDEN = os.path.join(os.path.dirname(__file__), "..", "golden", "dispatch")
FORMATS = ("json", "cap", "eido")
HOTLINE = """hotline:
  organization: "Example Overdose Response Line"
  sender: "dispatch@example.org"
  agency_id: "example.org"
  callback_number: "+18005550100"
  time_zone: "America/Chicago"
"""


def config(receiver, order):
    targets = "\n".join(
        f'  ems-{f}: {{url: "{receiver.url("/" + f)}", format: {f}, secret_env: FAULT_SECRET, retry: {{max_attempts: 1}}}}'
        for f in FORMATS)
    chain = ", ".join(f"ems-{f}" for f in order)
    policy = f"default: {{ack_timeout_s: 30, steps: [{{after_s: 0, dispatch: [{chain}]}}]}}"
    return fh.yaml_config(0, "data", targets, policy, extra=HOTLINE)


def body_of(request, fmt):
    return request["body"].decode() if fmt == "cap" else json.loads(request["body"])


def summary_of(body, fmt):
    if fmt == "json":
        return body["data"]["summary"]
    if fmt == "cap":
        return re.search(r"<description>([^\n<]*)", body).group(1).replace("&apos;", "'").replace("&amp;", "&")
    return body["notesComponent"][0]["notesActionComments"].replace("&amp;", "&")


def validate(body, fmt):
    if fmt == "cap":
        dispatch_schemas.validate_cap(body)
    elif fmt == "eido":
        dispatch_schemas.validate_eido(body)


def wait_state(v, sid, state, timeout=10):
    end = time.time() + timeout
    while time.time() < end:
        s = v.call("GET", f"/v1/sessions/{sid}")[1]
        if s["state"] == state:
            return s
        time.sleep(0.05)
    raise AssertionError(f"session never reached {state}")


@pytest.mark.parametrize("holder", FORMATS)
def test_one_session_in_three_formats_valid_then_updated_and_cancelled(vigils, receiver, holder):
    # The two other formats refuse (400: failed at once, no retry), so the same session reaches all three; the holder
    # takes it and later receives the update and the cancel.
    order = [f for f in FORMATS if f != holder] + [holder]
    for f in order[:-1]:
        receiver.set("/" + f, 400)
    v = vigils(config(receiver, order), name=f"formats-{holder}").start()
    s = v.start_session(interval=2, grace=0, location={
        "address": "123 Main St", "unit": "4B", "city": "Springfield", "region": "IL", "postal_code": "62701",
        "country": "US", "latitude": 39.7817, "longitude": -89.6501, "accuracy_m": 25,
        "access_notes": "side door, code 1234"}, substance="fentanyl")
    assert receiver.wait_for("/" + holder, 1, timeout=10)
    wait_state(v, s["id"], "dispatched")
    summaries = set()
    for f in FORMATS:
        got = receiver.got("/" + f)
        assert len(got) == 1, (f, len(got))
        assert fh.verify(got[0]["headers"], got[0]["body"])
        body = body_of(got[0], f)
        validate(body, f)
        summaries.add(summary_of(body, f))
    assert len(summaries) == 1, summaries
    summary = summaries.pop()
    assert summary.startswith("Suspected overdose: J stopped answering at ")
    assert re.search(r"at \d\d:\d\d C[SD]T", summary), summary
    assert "0 s" not in summary and "hotline +18005550100" in summary
    assert "Said they were using: fentanyl." in summary, "the substance changes what responders bring"
    requested = body_of(receiver.got("/json")[0], "json")
    assert "0 s after" not in requested["data"]["reason"]
    dispatch = requested["data"]["dispatch"]
    assert dispatch["nature"] == "suspected_overdose"
    assert dispatch["location"]["accuracy_m"] == 25
    assert dispatch["person"] == {"alias": "J", "callback_number": "+15551234567", "substance": "fentanyl"}
    assert dispatch["hotline"] == {"organization": "Example Overdose Response Line", "callback_number": "+18005550100"}
    assert "naloxone" not in receiver.got("/json")[0]["body"].decode()
    assert "version" not in requested["data"]["session"]
    cap = receiver.got("/cap")[0]["body"].decode()
    assert "<circle>39.7817,-89.6501 0.025</circle>" in cap and "<sender>dispatch@example.org</sender>" in cap

    first = receiver.got("/" + holder)[0]
    status, _ = v.call("PATCH", f"/v1/sessions/{s['id']}", {"location": {
        "address": "125 Main St", "unit": "5C", "city": "Springfield", "latitude": 39.7818, "longitude": -89.6502}})
    assert status == 200
    got = receiver.wait_for("/" + holder, 2, timeout=10)
    assert len(got) == 2
    update = body_of(got[1], holder)
    validate(update, holder)
    assert v.call("POST", f"/v1/sessions/{s['id']}/check-ins", {})[0] == 200
    got = receiver.wait_for("/" + holder, 3, timeout=10)
    assert len(got) == 3
    cancel = body_of(got[2], holder)
    validate(cancel, holder)
    held_id = first["headers"]["webhook-id"]
    if holder == "json":
        assert update["type"] == "dispatch.updated" and update["data"]["dispatch"]["location"]["unit"] == "5C"
        assert update["data"]["dispatch"]["changed"] == ["location", "access_notes"]
        assert held_id in update["data"]["references"]
        assert update["data"]["dispatch"]["incident"] == requested["data"]["dispatch"]["incident"]
        assert cancel["type"] == "dispatch.cancelled" and cancel["data"]["summary"].startswith("CANCEL VGL-")
        assert got[1]["headers"]["webhook-id"] in cancel["data"]["references"]
    elif holder == "cap":
        assert "<msgType>Update</msgType>" in update and "<msgType>Cancel</msgType>" in cancel
        sent = re.search(r"<sent>([^<]*)</sent>", body_of(first, "cap")).group(1)
        assert f"dispatch@example.org,{held_id},{sent}" in update
        assert f"dispatch@example.org,{held_id},{sent}" in cancel
        assert got[1]["headers"]["webhook-id"] in cancel
    else:
        original = body_of(first, "eido")
        ids = lambda d: [d["$id"], d["incidentComponent"]["$id"], d["locationComponent"][0]["$id"],
                         d["personComponent"][0]["$id"]]
        assert ids(update) == ids(original) == ids(cancel)
        assert original["lastUpdateTimeStamp"] < update["lastUpdateTimeStamp"] < cancel["lastUpdateTimeStamp"]
        assert original["incidentComponent"]["incidentStatusCommonRegistryText"] == ["Open"]
        assert cancel["incidentComponent"]["incidentStatusCommonRegistryText"] == ["Closed"]
        assert any("the person checked in" in n["notesActionComments"] for n in cancel["notesComponent"][1:])
        assert "5C" in update["locationComponent"][0]["locationDescriptionText"]


def test_the_golden_bodies_are_there():
    # The schema checks below are made per file: with the directory missing they would silently check nothing.
    names = os.listdir(GOLDEN) if os.path.isdir(GOLDEN) else []
    kinds = {n.split(".", 1)[1] for n in names if "." in n}
    assert {"json", "cap.xml", "eido.json"} <= kinds, f"golden dispatch bodies missing from {GOLDEN}: {names}"


@pytest.mark.parametrize("name", sorted(os.listdir(GOLDEN)) if os.path.isdir(GOLDEN) else [])
def test_golden_bodies_pass_their_schemas(name):
    with open(os.path.join(GOLDEN, name), "rb") as f:
        raw = f.read()
    if name.endswith(".cap.xml"):
        dispatch_schemas.validate_cap(raw)
    elif name.endswith(".eido.json"):
        dispatch_schemas.validate_eido(json.loads(raw))
    else:
        assert json.loads(raw)["data"]["summary"]


def test_the_validators_can_fail():
    with open(os.path.join(GOLDEN, "full-requested.cap.xml")) as f:
        cap = f.read()
    with pytest.raises(Exception):
        dispatch_schemas.validate_cap(cap.replace("-00:00</sent>", "Z</sent>"))
    with pytest.raises(Exception):
        dispatch_schemas.validate_cap(cap.replace("<status>Actual</status>", "<status>Real</status>"))
    with open(os.path.join(GOLDEN, "full-requested.eido.json")) as f:
        eido = json.load(f)
    del eido["eidoVersion"]
    with pytest.raises(AssertionError):
        dispatch_schemas.validate_eido(eido)
    with open(os.path.join(GOLDEN, "full-requested.eido.json")) as f:
        eido = json.load(f)
    eido["notesComponent"][0]["notesActionComments"] = 5
    with pytest.raises(AssertionError):
        dispatch_schemas.validate_eido(eido)


@pytest.mark.parametrize("accuracy", [-1, 100001, "25", 1e300])
def test_accuracy_m_is_validated(vigils, accuracy):
    v = vigils(fh.yaml_config(0, "data"), name="accuracy").start()
    raw = json.dumps({"location": {"address": "1 A St", "latitude": 1, "longitude": 2, "accuracy_m": accuracy},
                      "check_in_interval_s": 60}).encode()
    status, body = v.call("POST", "/v1/sessions", raw=raw)
    assert status == 400 and "accuracy_m" in body["error"]["message"], body
    status, body = v.call("POST", "/v1/sessions", {"location": {"address": "1 A St", "accuracy_m": 10},
                                                   "check_in_interval_s": 60})
    assert status == 400 and "latitude" in body["error"]["message"], body
    status, s = v.call("POST", "/v1/sessions", {"location": {"address": "1 A St", "latitude": 1, "longitude": 2,
                                                             "accuracy_m": 12.5}, "check_in_interval_s": 60})
    assert status == 201 and s["location"]["accuracy_m"] == 12.5


@pytest.mark.parametrize("line,message", [
    ('time_zone: "Mars/Olympus"', "hotline.time_zone"),
    ('callback_number: "800-555-0100"', "hotline.callback_number"),
    ('sender: "dispatch desk"', "hotline.sender"),
    ('agency_id: "not a domain"', "hotline.agency_id"),
    ('colour: "red"', "unknown key"),
])
def test_config_check_refuses_a_bad_hotline(tmp_path, line, message):
    path = tmp_path / "vigil.yaml"
    path.write_text(fh.yaml_config(0, str(tmp_path)) + "hotline:\n  " + line + "\n")
    r = fh.run([fh.BIN, "config", "check", str(path)], capture_output=True, text=True,
                       env=dict(os.environ, FAULT_TOKEN=fh.TOKEN))
    assert r.returncode != 0 and message in r.stdout, r.stdout + r.stderr
    assert re.search(r":\d+: ", r.stdout), "the error names its line"


def test_config_check_accepts_the_example_hotline(tmp_path):
    path = tmp_path / "vigil.yaml"
    path.write_text(fh.yaml_config(0, str(tmp_path)) + HOTLINE)
    r = fh.run([fh.BIN, "config", "check", str(path)], capture_output=True, text=True,
                       env=dict(os.environ, FAULT_TOKEN=fh.TOKEN))
    assert r.returncode == 0, r.stdout + r.stderr
