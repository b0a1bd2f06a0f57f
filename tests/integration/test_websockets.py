"""MQTT over WebSockets (ws://, wss://) against mosquitto's own `protocol websockets` listener:
byte-exact both ways with mosquitto's clients on the plain listener, every QoS, messages larger than
one frame, 10,000 QoS 1 messages, TLS verified, and the errors a user meets."""
import json
import random
import subprocess

import pytest
from conftest import records, run, stats_of
from mqtt_broker import Broker, make_certs

BIG = bytes(random.Random(11).getrandbits(8) for _ in range(1_500_000))  # several frames of 256 KiB
# What mosquitto 2.0 sends over WebSockets trickles (libwebsockets without external poll: ~40 KB/s
# here, Paho's client as slow as ours), so the large message the broker sends is smaller: still over
# 64 KiB, the frame length that needs 8 bytes.
LARGE = BIG[:70_000]


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    return make_certs(tmp_path_factory.mktemp("certs"))


@pytest.fixture(scope="module")
def broker(tmp_path_factory, certs):
    b = Broker(tmp_path_factory.mktemp("ws"), tls=certs, websockets=True).start()
    yield b
    b.stop()


def mosquitto_sub(broker, topic, count):
    """mosquitto_sub on the plain listener, returned once subscribed (a retained probe came back)."""
    subprocess.run(["mosquitto_pub", "-p", str(broker.port), "-t", f"{topic}/ready", "-m", "probe", "-r"], check=True)
    p = subprocess.Popen(["mosquitto_sub", "-h", "127.0.0.1", "-p", str(broker.port), "-F", "%t %x", "-t",
                          f"{topic}/#", "-C", str(count + 1), "-W", "60"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    assert p.stdout.readline().startswith(f"{topic}/ready".encode()), "mosquitto_sub did not subscribe"
    return p


def got_of(p):
    out, err = p.communicate(timeout=90)
    assert p.returncode == 0, err
    return [(line.split(" ")[0], bytes.fromhex(line.split(" ")[1]) if " " in line else b"")
            for line in out.decode().splitlines()]


@pytest.mark.parametrize("qos", [0, 1, 2])
def test_iot_pub_over_ws_reaches_mosquitto_sub_byte_exact(broker, tmp_path, qos):
    sub = mosquitto_sub(broker, f"ws{qos}", 3)
    (tmp_path / "big").write_bytes(BIG)
    for args in (["-m", "héllo"], ["-m", '{"t":21.5}'], ["-f", str(tmp_path / "big")]):
        r = run("iot-pub", broker.ws_url, "-t", f"ws{qos}/x", "-q", str(qos), *args)
        assert r.returncode == 0, r.stderr
    got = got_of(sub)
    assert [payload for _, payload in got] == ["héllo".encode(), b'{"t":21.5}', BIG]


@pytest.mark.parametrize("qos", [0, 1, 2])
def test_mosquitto_pub_reaches_iot_sub_over_ws_byte_exact(broker, procs, tmp_path, qos):
    sub = procs("iot-sub", f"{broker.ws_url}/mqtt", "--verbose", "-t", f"in{qos}/#", "-q", str(qos), "-C", "2",
                "-W", "60s", "--payload", "hex")
    sub.wait_stderr("subscribed to")
    (tmp_path / "big").write_bytes(LARGE)
    base = ["mosquitto_pub", "-h", "127.0.0.1", "-p", str(broker.port), "-q", str(qos), "-t", f"in{qos}/x"]
    subprocess.run(base + ["-m", "small"], check=True)
    subprocess.run(base + ["-f", str(tmp_path / "big")], check=True)
    code, out, err = sub.finish()
    assert code == 0, err
    recs = records(out)
    assert [bytes.fromhex(r["hex"]) for r in recs] == [b"small", LARGE]
    assert recs[0]["src"] == f"{broker.ws_url}/mqtt"


def test_ten_thousand_qos1_messages_over_ws_none_lost(broker, procs):
    n = 10_000
    sub = procs("iot-sub", broker.ws_url, "--verbose", "-t", "many/#", "-q", "1", "-C", str(n), "-W", "120s",
                "--format", "raw")
    sub.wait_stderr("subscribed to")
    lines = "".join(f"m{i}\n" for i in range(n))
    r = run("iot-pub", broker.ws_url, "-t", "many/x", "-q", "1", "-l", "--stats", input=lines, timeout=120)
    assert r.returncode == 0, r.stderr
    assert stats_of(r.stderr)["acked"] == n
    code, out, err = sub.finish(timeout=120)
    assert code == 0, err
    assert out.decode().splitlines() == [f"m{i}" for i in range(n)]


def test_wss_verifies_the_broker(broker, certs, procs):
    sub = procs("iot-sub", broker.wss_url, "--cafile", certs["ca"], "--verbose", "-t", "sec/#", "-C", "1", "-W", "30s")
    sub.wait_stderr("subscribed to")
    r = run("iot-pub", broker.wss_url, "--cafile", certs["ca"], "-t", "sec/x", "-m", "over wss", "-q", "1")
    assert r.returncode == 0, r.stderr
    code, out, err = sub.finish()
    assert code == 0, err
    assert records(out)[0]["text"] == "over wss"
    bad = run("iot-pub", broker.wss_url, "--cafile", certs["other_ca"], "-t", "sec/x", "-m", "y")
    assert bad.returncode == 4
    assert b"certificate is not trusted" in bad.stderr


def test_ws_to_a_plain_mqtt_listener_says_what_went_wrong(broker):
    r = run("iot-pub", f"ws://127.0.0.1:{broker.port}", "-t", "x", "-m", "y")
    assert r.returncode == 4
    assert b"WebSocket" in r.stderr and f"ws://127.0.0.1:{broker.port}/mqtt".encode() in r.stderr


def test_bridge_and_replay_publish_over_ws(broker, tmp_path, procs):
    sub = mosquitto_sub(broker, "br", 2)
    (tmp_path / "in.txt").write_text("one\ntwo\n")
    bridge = procs("bridge", f"file:{tmp_path}/in.txt", broker.ws_url, "-t", "br/up")
    assert got_of(sub) == [("br/up", b"one"), ("br/up", b"two")]
    bridge.interrupt()
    sub = mosquitto_sub(broker, "rep", 2)
    rec = tmp_path / "rec.jsonl"
    rec.write_text('{"ts":"2026-01-01T00:00:00Z","topic":"rep/a","text":"one"}\n'
                   '{"ts":"2026-01-01T00:00:00.001Z","topic":"rep/b","text":"two"}\n')
    r = run("replay", str(rec), broker.ws_url, "--speed", "0")
    assert r.returncode == 0, r.stderr
    assert got_of(sub) == [("rep/a", b"one"), ("rep/b", b"two")]


@pytest.mark.parametrize("scheme", ["ws", "wss"])
def test_loadgen_over_websockets_counts_every_message(broker, certs, tmp_path, scheme):
    url = broker.ws_url if scheme == "ws" else broker.wss_url
    tls = ["--cafile", certs["ca"]] if scheme == "wss" else []
    r = run("loadgen", url, *tls, "--devices", "10", "--rate", "20", "-C", "10", "-q", "1", "-t", f"lg{scheme}/{{dev}}",
            "--json", str(tmp_path / "s.json"), "--fail-if", "loss>0", timeout=60)
    assert r.returncode == 0, r.stderr
    s = json.loads((tmp_path / "s.json").read_text())
    assert s["connects"]["ok"] == 10 and s["sent"] == s["acked"] == s["received"] == 100


def test_paho_over_websockets_is_a_peer_both_ways(broker, procs):
    """An independent WebSocket client (Paho, transport websockets) on the same listener."""
    import threading

    import paho.mqtt.client as mqtt
    got, subscribed, arrived = [], threading.Event(), threading.Event()
    c = mqtt.Client(transport="websockets")
    c.ws_set_options(path="/mqtt")
    c.on_subscribe = lambda *a: subscribed.set()

    def on_message(_c, _u, m):
        got.append((m.topic, m.payload, m.qos))
        arrived.set()

    c.on_message = on_message
    c.connect("127.0.0.1", broker.ws_port, keepalive=30)
    c.loop_start()
    try:
        c.subscribe("paho/in", 2)
        assert subscribed.wait(10)
        sub = procs("iot-sub", broker.ws_url, "--verbose", "-t", "paho/out", "-q", "2", "-C", "1", "-W", "30s",
                    "--payload", "hex")
        sub.wait_stderr("subscribed to")
        r = run("iot-pub", broker.ws_url, "-t", "paho/in", "-q", "2", "-m", "to paho")
        assert r.returncode == 0, r.stderr
        assert arrived.wait(10)
        assert got == [("paho/in", b"to paho", 2)]
        c.publish("paho/out", b"\x00\x01from paho", qos=2).wait_for_publish(10)
        code, out, err = sub.finish()
        assert code == 0, err
        assert records(out)[0]["hex"] == "0001" + b"from paho".hex()
    finally:
        c.loop_stop()
        c.disconnect()
