"""Against the real binary: routing by location (a table and a GeoJSON polygon), the closed
dispatch loop (no `accepted` in time → the backup gets the dispatch, the first a cancel), follow-ups and the
summary report."""
import json, os, subprocess, time
import fault_harness as fh

DISPATCH_TOKEN = "fault-dispatch-token-ems-0123456789"
DISPATCH2_TOKEN = "fault-dispatch-token-ems2-012345678"
VIEWER_TOKEN = "fault-viewer-token-0123456789abcdef"
SANGAMON_TOKEN = "fault-dispatch-token-sangamon-01234"

# A square around downtown Springfield, IL, with a hole (a block served by someone else) in its middle.
SQUARE = {"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {"name": "downtown"},
          "geometry": {"type": "Polygon", "coordinates": [
              [[-89.70, 39.75], [-89.60, 39.75], [-89.60, 39.85], [-89.70, 39.85], [-89.70, 39.75]],
              [[-89.66, 39.79], [-89.64, 39.79], [-89.64, 39.81], [-89.66, 39.81], [-89.66, 39.79]]]}}]}


def config(receiver, routes=True, default=True, accept_s=None, arrival_s=None, chain="[route, ems-backup]",
           port=None):
    loop = ""
    if accept_s:
        loop += f", accept_timeout_s: {accept_s}"
    if arrival_s:
        loop += f", arrival_timeout_s: {arrival_s}"
    targets = "\n".join(
        f'  {name}: {{url: "{receiver.url("/" + name)}", format: json, secret_env: FAULT_SECRET{loop}}}'
        for name in ["ems-square", "ems-sangamon", "ems-illinois", "ems-national", "ems-backup"])
    targets += f'\n  alarm: {{url: "{receiver.url("/alarm")}", format: json, secret_env: FAULT_SECRET}}'
    text = fh.yaml_config(
        port or fh.free_port(), "data", targets=targets,
        policy=f"default: {{ack_timeout_s: 60, steps: [{{after_s: 0, dispatch: {chain}}}], on_delivery_failure: [alarm]}}",
        tokens=["{name: viewer, role: viewer, token_env: VIEWER_TOKEN}",
                "{name: ems-square-cad, role: dispatch, target: ems-square, token_env: DISPATCH_TOKEN}",
                "{name: ems-backup-cad, role: dispatch, target: ems-backup, token_env: DISPATCH2_TOKEN}",
                "{name: sangamon-cad, role: dispatch, target: ems-sangamon, token_env: SANGAMON_TOKEN}"],
        extra="follow_up: {after_s: 3600}")
    if routes:
        text += """routes:
  - {polygon_file: "springfield.geojson", target: ems-square}
  - {country: US, region: IL, postal_code_prefix: "627", target: ems-sangamon}
  - {country: US, region: IL, target: ems-illinois}
"""
        if default:
            text += "  - {default: ems-national}\n"
    return text


def start(vigils, text):
    v = vigils(text, env={"DISPATCH_TOKEN": DISPATCH_TOKEN, "DISPATCH2_TOKEN": DISPATCH2_TOKEN,
                          "VIEWER_TOKEN": VIEWER_TOKEN, "SANGAMON_TOKEN": SANGAMON_TOKEN})
    with open(os.path.join(v.dir, "springfield.geojson"), "w") as f:
        json.dump(SQUARE, f)
    return v.start()


def session(v, sid):
    return v.call("GET", f"/v1/sessions/{sid}")[1]


def begin(v, location, interval=3600, grace=1):
    body = {"location": dict({"address": "1 Test Rd"}, **location), "caller": {"alias": "J"},
            "check_in_interval_s": interval, "grace_s": grace}
    status, s = v.call("POST", "/v1/sessions", body)
    assert status == 201, (status, s)
    return s


def wait(pred, timeout=10):
    end = time.time() + timeout
    while time.time() < end:
        got = pred()
        if got:
            return got
        time.sleep(0.05)
    return pred()


def test_routing_table_and_polygon_resolve_at_intake_and_after_a_location_change(vigils, receiver):
    v = start(vigils, config(receiver))
    cases = [
        ({"latitude": 39.77, "longitude": -89.68}, {"target": "ems-square", "matched": "polygon springfield.geojson"},
         []),
        ({"latitude": 39.75, "longitude": -89.65}, {"target": "ems-square", "matched": "polygon springfield.geojson"},
         []),  # on the edge
        ({"latitude": 39.80, "longitude": -89.65, "country": "us", "region": "il", "postal_code": "627 01"},
         {"target": "ems-sangamon", "matched": "postal_code_prefix 627"}, []),  # in the hole
        ({"latitude": 41.88, "longitude": -87.63, "country": "US", "region": "IL", "postal_code": "60601"},
         {"target": "ems-illinois", "matched": "region IL"}, []),  # outside
        ({"country": "CA"}, {"target": "ems-national", "matched": "default"}, ["routing.default"]),
    ]
    for location, route, warnings in cases:
        s = begin(v, location)
        assert s["route"] == route, (location, s["route"])
        assert s["warnings"] == warnings, (location, s["warnings"])
    # The default warns until an operator confirms it (a pin), and a pin survives a location change.
    sid = s["id"]
    assert "routing.default" in [e["type"] for e in session(v, sid)["events"]]
    status, after = v.call("PATCH", f"/v1/sessions/{sid}", {"route": {"target": "ems-national"}})
    assert status == 200 and after["route"] == {"target": "ems-national", "matched": "pinned"} and after["warnings"] == []
    status, after = v.call("PATCH", f"/v1/sessions/{sid}", {"location": {"address": "2 Test Rd", "latitude": 39.77,
                                                                          "longitude": -89.68}})
    assert after["route"]["matched"] == "pinned"
    status, after = v.call("PATCH", f"/v1/sessions/{sid}", {"route": None})
    assert after["route"] == {"target": "ems-square", "matched": "polygon springfield.geojson"}
    # Bad pins are refused and change nothing.
    assert v.call("PATCH", f"/v1/sessions/{sid}", {"route": {"target": "nowhere"}})[0] == 400
    assert v.call("PATCH", f"/v1/sessions/{sid}", {"route": "ems-x"})[0] == 400
    assert session(v, sid)["route"]["target"] == "ems-square"


def test_no_route_and_no_default_is_a_warning_and_the_step_goes_on_to_its_next_target(vigils, receiver):
    v = start(vigils, config(receiver, default=False))
    s = begin(v, {"country": "CA", "latitude": 45.0, "longitude": -75.0}, interval=1, grace=1)
    assert s["route"] is None and s["warnings"] == ["routing.unresolved"]
    assert receiver.wait_for("/ems-backup", 1, timeout=10)
    types = [e["type"] for e in session(v, s["id"])["events"]]
    assert types.count("routing.unresolved") == 2  # at intake, and when the dispatch step skipped `route`
    assert [r["path"] for r in receiver.got()] == ["/ems-backup"]


def test_with_no_routes_there_is_no_route_and_no_warning(vigils, receiver):
    v = start(vigils, config(receiver, routes=False, chain="[ems-backup]"))
    s = begin(v, {"country": "CA"})
    assert "route" not in s and "warnings" not in s


def test_config_check_refuses_unknown_route_targets_and_broken_polygons(tmp_path, receiver):
    text = config(receiver).replace("target: ems-illinois}", "target: ems-nowhere}")
    (tmp_path / "vigil.yaml").write_text(text)
    (tmp_path / "springfield.geojson").write_text('{"type": "Polygon", "coordinates": [[[0, 0], [1, 1]]]}')
    r = fh.run([fh.BIN, "config", "check", str(tmp_path / "vigil.yaml")], capture_output=True, text=True,
                       env=dict(os.environ, FAULT_TOKEN=fh.TOKEN, FAULT_SECRET=fh.SECRET, VIEWER_TOKEN=VIEWER_TOKEN,
                                DISPATCH_TOKEN=DISPATCH_TOKEN, DISPATCH2_TOKEN=DISPATCH2_TOKEN,
                                SANGAMON_TOKEN=SANGAMON_TOKEN))
    out = r.stdout + r.stderr
    assert r.returncode != 0
    assert "unknown target \"ems-nowhere\"" in out, out
    assert "springfield.geojson is not usable GeoJSON" in out, out


def test_no_accepted_in_time_moves_the_dispatch_to_the_backup_and_alarms(vigils, receiver):
    v = start(vigils, config(receiver, accept_s=2))
    s = begin(v, {"latitude": 39.77, "longitude": -89.68}, interval=1, grace=1)
    first = receiver.wait_for("/ems-square", 1, timeout=10)
    assert first and json.loads(first[0]["body"])["type"] == "dispatch.requested"
    t_first = first[0]["at"]
    backup = receiver.wait_for("/ems-backup", 1, timeout=10)
    assert backup, receiver.got()
    assert 1.8 <= backup[0]["at"] - t_first <= 3.5, backup[0]["at"] - t_first
    assert json.loads(backup[0]["body"])["type"] == "dispatch.requested"
    cancel = receiver.wait_for("/ems-square", 2, timeout=5)
    body = json.loads(cancel[1]["body"])
    assert body["type"] == "dispatch.cancelled" and "moved to the next centre" in body["data"]["reason"]
    after = wait(lambda: (lambda x: x if len(x["dispatch"]["targets"]) == 2 else None)(session(v, s["id"])))
    types = [e["type"] for e in after["events"]]
    assert "dispatch.unaccepted" in types
    unaccepted = next(e for e in after["events"] if e["type"] == "dispatch.unaccepted")
    assert unaccepted["data"]["alarm"] is True and unaccepted["data"]["next_target"] == "ems-backup"
    assert [t["target"] for t in after["dispatch"]["targets"]] == ["ems-square", "ems-backup"]
    assert after["dispatch"]["targets"][0]["cancelled_at"] is not None
    # The backup accepts: recorded in dispatch.status; no further failover.
    assert v.call("POST", f"/v1/sessions/{s['id']}/dispatch-status", {"status": "accepted", "reference": "CAD-7"},
                  token=DISPATCH2_TOKEN)[0] == 204
    time.sleep(3)
    after = session(v, s["id"])
    assert [(r["target"], r["status"], r["reference"]) for r in after["dispatch"]["status"]] == [
        ("ems-backup", "accepted", "CAD-7")]
    assert len(receiver.got("/ems-backup")) == 1 and receiver.got("/alarm") == []
    # A late acceptance from the first centre is recorded and alarmed: two crews may be coming.
    assert v.call("POST", f"/v1/sessions/{s['id']}/dispatch-status", {"status": "accepted"},
                  token=DISPATCH_TOKEN)[0] == 204
    assert "dispatch.accepted_late" in [e["type"] for e in session(v, s["id"])["events"]]


def test_the_accept_deadline_survives_a_restart(vigils, receiver):
    port = fh.free_port()
    v = start(vigils, config(receiver, accept_s=3, port=port))
    begin(v, {"latitude": 39.77, "longitude": -89.68}, interval=1, grace=1)
    assert receiver.wait_for("/ems-square", 1, timeout=10)
    v.kill9()
    time.sleep(0.5)
    v.start()
    assert receiver.wait_for("/ems-backup", 1, timeout=10), receiver.got()


def test_arrival_overdue_after_accepted(vigils, receiver):
    v = start(vigils, config(receiver, arrival_s=1))
    s = begin(v, {"latitude": 39.77, "longitude": -89.68}, interval=1, grace=1)
    assert receiver.wait_for("/ems-square", 1, timeout=10)
    wait(lambda: session(v, s["id"])["state"] == "dispatched")
    assert v.call("POST", f"/v1/sessions/{s['id']}/dispatch-status", {"status": "accepted"},
                  token=DISPATCH_TOKEN)[0] == 204
    got = wait(lambda: "dispatch.arrival_overdue" in [e["type"] for e in session(v, s["id"])["events"]], timeout=6)
    assert got
    assert v.call("POST", f"/v1/sessions/{s['id']}/dispatch-status", {"status": "on_scene"},
                  token=DISPATCH_TOKEN)[0] == 204
    assert [r["status"] for r in session(v, s["id"])["dispatch"]["status"]] == ["accepted", "on_scene"]


def test_routed_dispatched_accepted_closed_with_a_follow_up_and_counted(vigils, receiver):
    v = start(vigils, config(receiver, accept_s=30, arrival_s=600))
    s = begin(v, {"latitude": 39.80, "longitude": -89.65, "country": "US", "region": "IL", "postal_code": "62701"},
              interval=1, grace=1)
    assert s["route"] == {"target": "ems-sangamon", "matched": "postal_code_prefix 627"}
    assert receiver.wait_for("/ems-sangamon", 1, timeout=10)
    wait(lambda: session(v, s["id"])["state"] == "dispatched")
    # Another centre's token may not report on this dispatch.
    assert v.call("POST", f"/v1/sessions/{s['id']}/dispatch-status", {"status": "accepted"},
                  token=DISPATCH_TOKEN)[0] == 403
    for st in ["accepted", "en_route", "on_scene", "closed"]:
        assert v.call("POST", f"/v1/sessions/{s['id']}/dispatch-status", {"status": st, "reference": "SGM-1"},
                      token=SANGAMON_TOKEN)[0] == 204
    # The follow-up exists from the 2xx on.
    status, listing = v.call("GET", "/v1/follow-ups?state=open", token=VIEWER_TOKEN)
    assert status == 200
    mine = [f for f in listing["follow_ups"] if f["session_id"] == s["id"]]
    assert len(mine) == 1 and mine[0]["alias"] == "J" and mine[0]["state"] == "open"
    fid = mine[0]["id"]
    assert v.call("POST", f"/v1/sessions/{s['id']}/end", {"outcome": "ems_attended"})[0] == 200
    assert v.call("POST", f"/v1/follow-ups/{fid}/close", {"outcome": "revived"}, token=VIEWER_TOKEN)[0] == 403
    assert v.call("POST", f"/v1/follow-ups/{fid}/close", {"outcome": "asleep"})[0] == 400
    assert v.call("POST", "/v1/follow-ups/fu_nope/close", {"outcome": "revived"})[0] == 404
    status, closed = v.call("POST", f"/v1/follow-ups/{fid}/close",
                            {"outcome": "revived", "naloxone_used": True, "note": "called back, doing fine"})
    assert status == 200 and closed["state"] == "closed" and closed["outcome"] == "revived"
    assert closed["closed_by"] == "console" and closed["naloxone_used"] is True
    assert v.call("POST", f"/v1/follow-ups/{fid}/close", {"outcome": "revived"})[0] == 409
    assert [f["id"] for f in v.call("GET", "/v1/follow-ups?state=closed")[1]["follow_ups"]] == [fid]
    assert v.call("GET", "/v1/follow-ups?state=open")[1]["follow_ups"] == []
    status, report = v.call("GET", "/v1/reports/summary?from=2000-01-01&to=2100-01-01", token=VIEWER_TOKEN)
    assert status == 200
    assert report["sessions"] == 1 and report["lapses"] == 1 and report["dispatches"] == 1
    assert report["outcomes"] == {"ems_attended": 1} and report["follow_up_outcomes"] == {"revived": 1}
    assert report["naloxone_used"] == 1 and report["responders_contacted"] == 0
    assert isinstance(report["median_deadline_to_dispatch_s"], int)
    assert "J" not in json.dumps(report) and "Test Rd" not in json.dumps(report)
    assert v.call("GET", "/v1/reports/summary?from=yesterday")[0] == 400
    assert report["dispatches_accepted"] == 1 and isinstance(report["median_deadline_to_accept_s"], int)
    status, empty = v.call("GET", "/v1/reports/summary?from=2000-01-01&to=2000-01-02")
    assert empty["sessions"] == 0 and empty["median_deadline_to_dispatch_s"] is None
    timeline = session(v, s["id"])
    assert [r["status"] for r in timeline["dispatch"]["status"]] == ["accepted", "en_route", "on_scene", "closed"]
    assert all(r["at"] for r in timeline["dispatch"]["status"])
    types = [e["type"] for e in timeline["events"]]
    for t in ["routing.resolved", "dispatch.requested", "dispatch.accepted", "dispatch.status", "follow_up.created",
              "session.ended", "follow_up.closed"]:
        assert t in types, (t, types)
    os.makedirs(fh.LOG_DIR, exist_ok=True)
    with open(os.path.join(fh.LOG_DIR, "routed-timeline.json"), "w") as f:
        json.dump(timeline, f, indent=1)
