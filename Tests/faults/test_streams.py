"""Event streams: opened by a single-use ticket (no token in a URL), capped per token, closed on shutdown."""
import json, socket, time, urllib.request, urllib.error
import fault_harness as fh


def open_stream(v, query="", headers=None, timeout=5):
    req = urllib.request.Request(v.base + "/v1/events" + query, headers=headers or {})
    return urllib.request.urlopen(req, timeout=timeout)


def ticket(v):
    status, body = v.call("POST", "/v1/events/ticket", {})
    assert status == 200, body
    assert body["expires_in_s"] == 30
    return body["ticket"]


def test_a_ticket_opens_one_stream_once_and_a_token_in_the_url_opens_none(vigils):
    v = vigils(fh.yaml_config(0, "data"), name="tickets").start()
    t = ticket(v)
    s = open_stream(v, "?ticket=" + urllib.parse.quote(t))
    assert s.status == 200 and s.headers["Content-Type"] == "text/event-stream"
    s.close()
    for query in ["?ticket=" + urllib.parse.quote(t), "?access_token=" + fh.TOKEN, "?ticket=" + t[:-4] + "AAAA",
                  "?ticket=garbage", "?ticket=" + "A" * 5000]:
        try:
            open_stream(v, query)
            raise AssertionError(f"{query[:40]} opened a stream")
        except urllib.error.HTTPError as e:
            assert e.code == 401, (query[:40], e.code)


def test_a_token_may_hold_eight_streams_not_more(vigils):
    v = vigils(fh.yaml_config(0, "data"), name="stream-cap").start()
    auth = {"Authorization": f"Bearer {fh.TOKEN}"}
    streams = [open_stream(v, headers=auth) for _ in range(8)]
    try:
        open_stream(v, headers=auth)
        raise AssertionError("a ninth stream opened")
    except urllib.error.HTTPError as e:
        assert e.code == 429 and json.loads(e.read())["error"]["code"] == "too_many_streams"
    # Another token is not affected by this one's streams.
    assert v.call("POST", "/v1/events/ticket", {})[0] == 200
    for s in streams:
        s.close()


def test_shutdown_with_fifty_open_streams_finishes_within_two_seconds(vigils):
    # Seven viewers (a token may hold eight streams) and the operator token the harness uses.
    tokens = {f"VIEWER_{i}": f"viewer-token-{i}-0123456789abcdef" for i in range(7)}
    config = fh.yaml_config(0, "data").replace(
        "    - {name: console, role: operator, token_env: FAULT_TOKEN}",
        "    - {name: console, role: operator, token_env: FAULT_TOKEN}\n" +
        "\n".join(f"    - {{name: viewer{i}, role: viewer, token_env: VIEWER_{i}}}" for i in range(7)))
    v = vigils(config, name="shutdown", env=tokens).start()
    streams = [open_stream(v, headers={"Authorization": f"Bearer {tokens[f'VIEWER_{i % 7}']}"}) for i in range(50)]
    assert v.call("GET", "/metrics", token=fh.TOKEN)[0] == 403, "an operator has no metrics"
    t0 = time.time()
    v.proc.send_signal(15)
    v.proc.wait(timeout=10)
    took = time.time() - t0
    assert took <= 2.0, f"shutdown took {took:.1f} s"
    assert v.proc.returncode == 0, v.proc.returncode
    # Every stream was ended by the server, not left hanging.
    for s in streams:
        s.read()
