"""Every MQTT tool against a hostile broker (hostile_broker.py): each ends with a clear message and
its exit code, or goes on when nothing is wrong on its side; none hangs past its timeout (the
subprocess timeouts are hang guards) and none trips ASan/UBSan."""
import signal
import subprocess

import pytest
from conftest import records, tool
from hostile_broker import BEHAVIOURS, HostileBroker

ARGS = {
    "iot-pub": ["-t", "x", "-m", "y", "-q", "1", "--connect-timeout", "2s", "--no-reconnect", "-W", "4s"],
    "iot-sub": ["-t", "x", "-q", "1", "-C", "1", "--connect-timeout", "2s", "--no-reconnect", "-W", "4s"],
    "loadgen": ["--devices", "2", "-C", "2", "--rate", "10", "--connect-timeout", "2s", "--fail-if", "loss>0"],
}
CONNECT = {"close": "connection reset by peer|closed the connection", "garbage": "no CONNACK",
           "silence": "no CONNACK", "bad_connack": "a malformed CONNACK"}
# (tool, behaviour) -> (exit code, a piece of the message) once connected
AFTER = {
    ("iot-pub", "huge_length"): (124, "1 published, 0 acknowledged"),
    ("iot-pub", "bad_varint"): (1, "a remaining length longer than 4 bytes"),
    ("iot-pub", "truncated"): (1, "connection lost"),
    ("iot-pub", "unknown_id"): (124, "1 published, 0 acknowledged"),
    ("iot-pub", "bad_utf8_topic"): (124, "1 published, 0 acknowledged"),
    ("iot-pub", "reserved_type"): (1, "unknown packet type 0"),
    ("iot-sub", "huge_length"): (1, "no SUBACK"),
    ("iot-sub", "bad_varint"): (1, "a remaining length longer than 4 bytes"),
    ("iot-sub", "truncated"): (1, "the broker closed the connection"),
    ("iot-sub", "unknown_id"): (1, "no SUBACK"),
    ("iot-sub", "bad_utf8_topic"): (0, ""),
    ("iot-sub", "reserved_type"): (1, "unknown packet type 0"),
    ("loadgen", "huge_length"): (1, "packet is over the limit"),
    ("loadgen", "bad_varint"): (1, "a remaining length longer than 4 bytes"),
    ("loadgen", "truncated"): (1, "the broker closed the connection"),
    ("loadgen", "unknown_id"): (5, "loss>0"),
    ("loadgen", "bad_utf8_topic"): (5, "loss>0"),
    ("loadgen", "reserved_type"): (1, "unknown packet type 0"),
}


def no_sanitizer_report(err):
    assert "Sanitizer" not in err and "runtime error" not in err, err


@pytest.mark.parametrize("behaviour", list(BEHAVIOURS))
@pytest.mark.parametrize("name", list(ARGS))
def test_a_tool_against_a_hostile_broker_ends_clearly(name, behaviour):
    h = HostileBroker(behaviour)
    try:
        r = subprocess.run([tool(name), h.url, *ARGS[name]], capture_output=True, timeout=60,
                           stdin=subprocess.DEVNULL)
    finally:
        h.stop()
    err = r.stderr.decode()
    no_sanitizer_report(err)
    if behaviour in CONNECT:
        assert r.returncode == 4, err
        assert any(w in err.lower() for w in CONNECT[behaviour].lower().split("|")), err
        return
    code, want = AFTER[(name, behaviour)]
    assert r.returncode == code, err
    assert want in err, err
    if (name, behaviour) == ("iot-sub", "bad_utf8_topic"):  # printed, the bad bytes replaced: valid JSON
        assert records(r.stdout)[0]["topic"] == "\ufffd\ufffdA"


@pytest.mark.parametrize("behaviour", list(BEHAVIOURS))
def test_bridge_against_a_hostile_broker_ends_clearly_or_stops_on_sigterm(behaviour):
    """bridge is a gateway: it runs until stopped. A broken connection ends it (--no-reconnect)
    with the reason; where the broker merely stays quiet it stops cleanly on SIGTERM."""
    h = HostileBroker(behaviour)
    quiet = behaviour in ("huge_length", "unknown_id", "bad_utf8_topic")
    p = subprocess.Popen([tool("bridge"), "-", h.url, "-t", "x", "--connect-timeout", "2s", "--no-reconnect",
                          "-k", "1"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        try:
            p.stdin.write(b'{"text":"a"}\n')
            p.stdin.flush()
        except BrokenPipeError:  # it already ended on what the broker sent at CONNECT: checked below
            assert not quiet
        if quiet:
            # it published after the hostile bytes and its loop went on to a keepalive ping: it
            # is still up, and SIGTERM must stop it cleanly (an exit before would show as not 130)
            assert h.wait_for([3, 12]), "bridge neither published nor pinged"
            p.send_signal(signal.SIGTERM)
        _, err = p.communicate(timeout=60)
    finally:
        h.stop()
    err = err.decode()
    no_sanitizer_report(err)
    if behaviour in CONNECT:
        assert p.returncode == 4 and any(w in err.lower() for w in CONNECT[behaviour].lower().split("|")), err
    elif quiet:
        assert p.returncode == 130, err
    else:
        assert p.returncode == 1 and "connection lost" in err, err
