"""Response plans against the real binary: a friend first, EMS when nobody answers (docs/contract.md, "Responders")."""
import http.client, json, os, time, urllib.parse
import fault_harness as fh

SAM = {"name": "Sam", "phone": "+1 (555) 765-4321", "relation": "friend"}
KIM = {"name": "Kim", "phone": "+15550001111", "relation": "neighbour"}


def config(receiver, port, answer_s=4, ems_after=8, going_pause=30):
    targets = (f"  gw: {{url: \"{receiver.url('/gw')}\", format: json, secret_env: FAULT_SECRET}}\n"
               f"  ems: {{url: \"{receiver.url('/ems')}\", format: json, secret_env: FAULT_SECRET}}")
    policy = (f"default: {{ack_timeout_s: 30, going_pause_s: {going_pause}, steps: ["
              f"{{after_s: 0, contact: responders, via: gw, answer_s: {answer_s}}}, "
              f"{{after_s: {ems_after}, dispatch: [ems]}}]}}")
    return fh.yaml_config(port, "data", targets, policy, extra=f'public_url: "http://127.0.0.1:{port}"')


def form(v, path, answer):
    """POSTs a form without following the redirect; returns (status, location, body)."""
    c = http.client.HTTPConnection("127.0.0.1", v.port, timeout=10)
    c.request("POST", path, body=urllib.parse.urlencode({"answer": answer}),
              headers={"Content-Type": "application/x-www-form-urlencoded"})
    r = c.getresponse()
    out = (r.status, r.getheader("location"), r.read().decode())
    c.close()
    return out


def page(v, path):
    c = http.client.HTTPConnection("127.0.0.1", v.port, timeout=10)
    c.request("GET", path)
    r = c.getresponse()
    out = (r.status, r.read().decode(), dict((k.lower(), val) for k, val in r.getheaders()))
    c.close()
    return out


def requests_of(receiver, type_):
    return [json.loads(r["body"]) for r in receiver.got("/gw", type_)]


def lapse_time(s):
    """When the session's ladder starts: its due time plus grace, as a Unix time."""
    from datetime import datetime
    due = datetime.fromisoformat(s["next_check_in_due_at"].replace("Z", "+00:00")).timestamp()
    return due + s["grace_s"]


def test_a_friend_who_is_going_pauses_the_ladder_and_their_ok_ends_it_without_dispatch(vigils, receiver):
    v = vigils(config(receiver, fh.free_port()), name="responders-going")
    v.start()
    assert v.call("PUT", "/v1/plans/J", {"responders": [SAM, KIM]})[0] == 200
    status, plan = v.call("GET", "/v1/plans/J")
    assert status == 200 and plan["responders"][0]["phone"] == "+15557654321", plan
    s = v.start_session(interval=2, grace=1, plan="J", substance="fentanyl")
    assert [r["status"] for r in s["responders"]] == ["not_contacted", "not_contacted"]
    lapse = lapse_time(s)

    got = receiver.wait_for("/gw", 1, timeout=10, type_="responder.requested")
    assert len(got) == 1
    assert fh.verify(got[0]["headers"], got[0]["body"]), "signed as Standard Webhooks"
    body = json.loads(got[0]["body"])
    data = body["data"]
    assert data["responder"] == {"name": "Sam", "phone": "+15557654321", "relation": "friend"}
    assert data["attempt"] == 1
    assert data["location"]["address"] == "123 Main St" and data["location"]["access_notes"] == "side door code 1234"
    assert data["session"] == {"id": s["id"], "state": "escalating", "caller": {"alias": "J"}}
    url = data["responder_url"]
    assert url.startswith(f"http://127.0.0.1:{v.port}/r/") and url in data["message"]
    assert "fentanyl" not in data["message"].lower() and "overdose" not in data["message"].lower()
    assert "fentanyl" not in got[0]["body"].decode().lower(), "the substance never goes to the gateway"
    path = urllib.parse.urlparse(url).path

    status, html, headers = page(v, path)
    assert status == 200
    assert "123 Main St" in html and "Unit 4B" in html and "side door code 1234" in html
    assert "I&#39;m going" in html or "I'm going" in html
    assert "<script" not in html.lower() and "set-cookie" not in headers
    assert "default-src 'none'" in headers["content-security-policy"]

    status, location, _ = form(v, path, "going")
    assert (status, location) == (303, path)
    status, html, _ = page(v, path)
    assert "recorded that you are going" in html
    s1 = v.call("GET", f"/v1/sessions/{s['id']}")[1]
    assert s1["escalation"]["paused_until"] is not None
    assert [r["status"] for r in s1["responders"]] == ["going", "not_contacted"]

    # Past EMS's own time (lapse + 8 s) and Kim's (lapse + 4 s): the pause holds both.
    time.sleep(max(0, lapse + 10 - time.time()))
    assert receiver.got("/ems") == [], "no dispatch while the friend is on the way"
    assert len(requests_of(receiver, "responder.requested")) == 1, "nobody else is asked once one is going"

    status, location, _ = form(v, path, "ok")
    assert status == 303
    s2 = v.call("GET", f"/v1/sessions/{s['id']}")[1]
    assert s2["state"] == "active"
    check_in = [e for e in s2["events"] if e["type"] == "check_in.received"][-1]
    assert check_in["data"]["source"] == "responder" and check_in["data"]["role"] == "responder"
    status, ended = v.call("POST", f"/v1/sessions/{s['id']}/end", {"outcome": "safe"})
    assert status == 200
    time.sleep(1)
    assert receiver.got("/ems") == []
    assert page(v, path)[0] == 410, "the link stops working when the session ends"
    assert form(v, path, "ems")[0] == 410
    timeline = v.call("GET", f"/v1/sessions/{s['id']}")[1]
    types = [e["type"] for e in timeline["events"]]
    assert "dispatch.requested" not in types
    for t in ["responder.requested", "responder.going", "responder.ok", "check_in.received", "session.ended"]:
        assert t in types, (t, types)
    os.makedirs(fh.LOG_DIR, exist_ok=True)
    with open(os.path.join(fh.ROOT, ".build", "friend-first-timeline.json"), "w") as f:
        json.dump(timeline, f, indent=1)


def test_nobody_answers_so_ems_is_dispatched_at_the_steps_time_even_across_a_restart(vigils, receiver):
    port = fh.free_port()
    v = vigils(config(receiver, port, answer_s=3, ems_after=8), name="responders-none")
    v.start()
    s = v.start_session(interval=2, grace=1, responders=[SAM, KIM])
    lapse = lapse_time(s)
    assert receiver.wait_for("/gw", 1, timeout=10, type_="responder.requested")
    # The time to answer is a stored deadline: a kill -9 does not lose it.
    v.kill9()
    v.start()
    got = receiver.wait_for("/gw", 2, timeout=10, type_="responder.requested")
    if [json.loads(r["body"])["data"]["attempt"] for r in got] == [1, 1]:
        # The first request's 2xx was not recorded before the kill: it is sent again (at least once), then the second.
        got = receiver.wait_for("/gw", 3, timeout=10, type_="responder.requested")
        got = [r for r in got if json.loads(r["body"])["data"]["attempt"] == 1][:1] + [
            r for r in got if json.loads(r["body"])["data"]["attempt"] != 1]
    assert [json.loads(r["body"])["data"]["attempt"] for r in got] == [1, 2]
    # On time, or at once after the restart if that took longer than the answer window (a loaded machine).
    assert lapse + 2.9 <= got[1]["at"] <= max(lapse + 3, v.ready_at) + 1.5, (got[1]["at"] - lapse, v.ready_at - lapse)
    ems = receiver.wait_for("/ems", 1, timeout=15)
    assert len(ems) == 1 and json.loads(ems[0]["body"])["type"] == "dispatch.requested"
    assert lapse + 7.9 <= ems[0]["at"] <= lapse + 10, ems[0]["at"] - lapse
    cancelled = receiver.wait_for("/gw", 2, timeout=5, type_="responder.cancelled")
    assert sorted(json.loads(r["body"])["data"]["attempt"] for r in cancelled) == [1, 2]
    types = [e["type"] for e in v.call("GET", f"/v1/sessions/{s['id']}")[1]["events"]]
    assert types.count("responder.no_answer") == 2


def test_a_responder_who_asks_for_ems_dispatches_at_once(vigils, receiver):
    v = vigils(config(receiver, fh.free_port(), answer_s=30, ems_after=60), name="responders-ems")
    v.start()
    s = v.start_session(interval=2, grace=1, responders=[SAM])
    got = receiver.wait_for("/gw", 1, timeout=10, type_="responder.requested")
    path = urllib.parse.urlparse(json.loads(got[0]["body"])["data"]["responder_url"]).path
    asked = time.time()
    assert form(v, path, "ems")[0] == 303
    ems = receiver.wait_for("/ems", 1, timeout=5)
    assert len(ems) == 1 and ems[0]["at"] - asked < 2
    # The receiver's 200 is recorded just after it answers: wait for it.
    end = time.time() + 5
    while (s1 := v.call("GET", f"/v1/sessions/{s['id']}")[1])["state"] != "dispatched" and time.time() < end:
        time.sleep(0.05)
    assert s1["state"] == "dispatched" and s1["dispatch"]["requested_by"] == "responder"


def test_plans_and_responders_are_validated_and_links_are_unguessable(vigils, receiver):
    v = vigils(config(receiver, fh.free_port()), name="responders-input")
    v.start()
    six = [dict(SAM, name=f"P{i}") for i in range(6)]
    assert v.call("PUT", "/v1/plans/J", {"responders": six})[0] == 400
    assert v.call("PUT", "/v1/plans/J", {"responders": [dict(SAM, phone="5557654321")]})[0] == 400
    assert v.call("PUT", "/v1/plans/J", {"responders": [dict(SAM, phone="+1555\u202e1234567")]})[0] == 400
    assert v.call("PUT", "/v1/plans/J", {"responders": [dict(SAM, extra=1)]})[0] == 400
    assert v.call("PUT", "/v1/plans/J", {"responders": []})[0] == 400
    assert v.call("PUT", "/v1/plans/J%2F..", {"responders": [SAM]})[0] in (400, 404)
    assert v.call("PUT", "/v1/plans/J", {"responders": [SAM]}, token="wrong-token-0123456789")[0] == 401
    assert v.call("GET", "/v1/plans/nobody")[0] == 404
    status, err = v.call("POST", "/v1/sessions", {"location": {"address": "1 A St"}, "check_in_interval_s": 60,
                                                  "plan": "nobody"})
    assert status == 400 and err["error"]["code"] == "invalid_request"
    assert v.call("PUT", "/v1/plans/J", {"responders": [SAM]})[0] == 200
    status, _ = v.call("POST", "/v1/sessions", {"location": {"address": "1 A St"}, "check_in_interval_s": 60,
                                                "plan": "J", "responders": [KIM]})
    assert status == 400
    assert v.call("DELETE", "/v1/plans/J")[0] == 204
    assert v.call("DELETE", "/v1/plans/J")[0] == 404
    assert page(v, "/r/short")[0] == 404
    assert page(v, "/r/" + "a" * 32)[0] == 410
    assert form(v, "/r/" + "a" * 32, "ok")[0] == 410
