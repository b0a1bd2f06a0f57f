"""The interop suite against a second broker, aedes (Node.js; tests/peers/aedes pins its version), so
that the client is not tuned to mosquitto's habits: byte-exact both ways with mosquitto's clients at
QoS 0-2, retained messages, the last will, a persistent session, 10,000 QoS 1 messages, Paho as the
peer, loadgen. aedes speaks MQTT 3.1.1 only: asked for MQTT 5 it refuses, and the tools say so."""
import base64
import json
import subprocess
import threading

import paho.mqtt.client as mqtt
import pytest

from conftest import records, run, stats_of
from mqtt_broker import Aedes
from test_mqtt import BINARY, iot_pub_to_mosquitto_sub, mosquitto_pub_to_iot_sub, subscriber


@pytest.fixture
def aedes(tmp_path):
    b = Aedes(tmp_path).start()
    yield b
    b.stop()


@pytest.mark.parametrize("qos", [0, 1, 2])
def test_mosquitto_pub_through_aedes_to_iot_sub_is_byte_exact(aedes, procs, tmp_path, qos):
    mosquitto_pub_to_iot_sub(aedes, procs, tmp_path, qos)


@pytest.mark.parametrize("qos", [0, 1, 2])
def test_iot_pub_through_aedes_to_mosquitto_sub_is_byte_exact(aedes, qos):
    iot_pub_to_mosquitto_sub(aedes, qos)


def test_retained_messages_on_aedes(aedes, procs):
    assert run("iot-pub", aedes.url, "-t", "r/lamp", "-m", "on", "-r", "-q", "1").returncode == 0
    r = run("iot-sub", aedes.url, "-t", "r/#", "--retained-only", "-W", "3s")
    assert r.returncode == 124  # --retained-only ends at the first live message; none comes
    assert [(x["topic"], x["text"], x["retain"]) for x in records(r.stdout)] == [("r/lamp", "on", True)]
    sub = subscriber(procs, aedes.url, "-t", "r/#", "-R", "-C", "1", "-W", "10s")
    subprocess.run(["mosquitto_pub", "-p", str(aedes.port), "-t", "r/live", "-m", "now"], check=True)
    code, out, _ = sub.finish()
    assert code == 0 and [x["topic"] for x in records(out)] == ["r/live"]  # the retained one skipped
    assert run("iot-pub", aedes.url, "-t", "r/lamp", "-n", "-r").returncode == 0  # clears it
    assert run("iot-sub", aedes.url, "-t", "r/#", "--retained-only", "-W", "1s").stdout == b""


def test_the_will_of_a_killed_iot_pub_on_aedes(aedes, procs):
    sub = subscriber(procs, aedes.url, "-t", "gone", "-q", "1", "-C", "1", "-W", "20s")
    pub = procs("iot-pub", aedes.url, "--verbose", "-t", "x", "--will-topic", "gone", "--will-payload", "bye",
                "--will-qos", "1", stdin=subprocess.PIPE)
    pub.wait_stderr("connected to")
    pub.kill()  # SIGKILL, by its PID: no DISCONNECT, so the broker sends the will
    code, out, err = sub.finish()
    assert code == 0, err.decode()
    assert [(x["topic"], x["text"], x["qos"]) for x in records(out)] == [("gone", "bye", 1)]


def test_messages_kept_for_an_offline_session_arrive_from_aedes(aedes, procs):
    """aedes sends what it kept for a persistent session right after CONNACK, before the SUBACK."""
    r = run("iot-sub", aedes.url, "-c", "-i", "keeper", "-t", "kept/#", "-q", "1", "-E")
    assert r.returncode == 0, r.stderr.decode()
    r = run("iot-pub", aedes.url, "-q", "1", input="".join(f'{{"topic":"kept/{i}","text":"m{i}"}}\n' for i in range(50)))
    assert r.returncode == 0, r.stderr.decode()
    r = run("iot-sub", aedes.url, "-c", "-i", "keeper", "-t", "kept/#", "-q", "1", "-C", "50", "-W", "20s")
    assert r.returncode == 0, r.stderr.decode()
    assert sorted(x["text"] for x in records(r.stdout)) == sorted(f"m{i}" for i in range(50))


@pytest.mark.parametrize("qos,n", [(1, 10_000), (2, 2_000)])
def test_thousands_of_messages_through_aedes_all_arrive_in_order(aedes, procs, qos, n):
    sub = subscriber(procs, aedes.url, "-t", "load/#", "-q", str(qos), "-C", str(n), "-W", "120s")
    r = run("iot-pub", aedes.url, "-q", str(qos), "--stats", timeout=120,
            input="".join(f'{{"topic":"load/{i % 10}","json":{{"n":{i}}}}}\n' for i in range(n)))
    assert r.returncode == 0, r.stderr.decode()
    st = stats_of(r.stderr)
    assert st["published"] == n and st["acked"] == n and st["failed"] == 0
    code, out, err = sub.finish(timeout=120)
    assert code == 0, err.decode()
    assert [x["json"]["n"] for x in records(out)] == list(range(n))  # one publisher: its order kept


def test_paho_and_iot_tools_both_ways_through_aedes(aedes, procs):
    got, done = [], threading.Event()
    c = mqtt.Client(client_id="paho-peer", protocol=mqtt.MQTTv311)
    subscribed = threading.Event()
    c.on_subscribe = lambda *a: subscribed.set()

    def on_message(_c, _u, msg):
        got.append((msg.topic, msg.payload, msg.qos))
        if len(got) == 3:
            done.set()

    c.on_message = on_message
    c.connect("127.0.0.1", aedes.port)
    c.loop_start()
    try:
        c.subscribe("to-paho/#", qos=2)
        assert subscribed.wait(10)
        r = run("iot-pub", aedes.url, "-t", "to-paho/x", "-q", "2", "-l", input=b"a\nb\n\n")
        assert r.returncode == 0, r.stderr.decode()
        assert done.wait(20)
        assert got == [("to-paho/x", b"a", 2), ("to-paho/x", b"b", 2), ("to-paho/x", b"", 2)]
        sub = subscriber(procs, aedes.url, "-t", "from-paho", "-q", "1", "-C", "1", "-W", "10s")
        c.publish("from-paho", BINARY, qos=1).wait_for_publish(10)
        code, out, err = sub.finish()
        assert code == 0, err.decode()
        assert base64.b64decode(records(out)[0]["b64"]) == BINARY
    finally:
        c.loop_stop()
        c.disconnect()


def test_loadgen_against_aedes_delivers_every_message(aedes, tmp_path):
    r = run("loadgen", aedes.url, "--devices", "20", "-C", "50", "-q", "1", "--json", str(tmp_path / "s.json"),
            timeout=120)
    assert r.returncode == 0, r.stderr.decode()
    s = json.loads((tmp_path / "s.json").read_text())
    assert s["sent"] == s["acked"] == s["received"] == 1000 and s["lost"] == 0 and s["duplicates"] == 0


def test_mqtt5_asked_of_aedes_is_refused_clearly(aedes):
    r = run("iot-pub", aedes.url, "-V", "5", "-t", "x", "-m", "y")
    assert r.returncode == 4, r.stderr.decode()
    assert b"the broker does not speak MQTT 5 (unacceptable protocol version); try -V 311" in r.stderr, r.stderr.decode()
