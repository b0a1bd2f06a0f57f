"""m2mkit's own MQTT client against an independent one: Paho (Debian's python3-paho-mqtt) as the
peer, through a real mosquitto, MQTT 3.1.1 and 5, QoS 0-2, properties both ways, the last will,
and messages a broker kept for an offline session (which arrive before the SUBACK)."""
import base64
import json
import random
import subprocess
import threading

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from conftest import records, run
from mqtt_broker import Broker

PAYLOADS = [bytes(random.Random(i).getrandbits(8) for _ in range(i % 300)) for i in range(200)]


@pytest.fixture
def broker(tmp_path):
    b = Broker(tmp_path).start()
    yield b
    b.stop()


class PahoPeer:
    """A Paho client on its own network thread; what arrives is collected in order."""

    def __init__(self, broker, version, client_id="", clean=True):
        self.v5 = version == "5"
        self.c = mqtt.Client(client_id=client_id, protocol=mqtt.MQTTv5 if self.v5 else mqtt.MQTTv311,
                             **({} if self.v5 else {"clean_session": clean}))
        self.got = []
        self.cond = threading.Condition()
        self.subscribed = threading.Event()
        self.c.on_message = self._on_message
        self.c.on_subscribe = lambda *a: self.subscribed.set()
        self.c.connect("127.0.0.1", broker.port, keepalive=30)
        self.c.loop_start()

    def _on_message(self, client, userdata, msg):
        with self.cond:
            self.got.append(msg)
            self.cond.notify_all()

    def subscribe(self, topic, qos):
        self.subscribed.clear()
        self.c.subscribe(topic, qos)
        assert self.subscribed.wait(10), "Paho's subscription was not acknowledged"

    def wait_for(self, n, timeout=30):
        with self.cond:
            assert self.cond.wait_for(lambda: len(self.got) >= n, timeout), f"got {len(self.got)} of {n}"
        return self.got

    def close(self):
        self.c.disconnect()
        self.c.loop_stop()


def props_v5(**kw):
    p = Properties(PacketTypes.PUBLISH)
    for k, v in kw.items():
        setattr(p, k, v)
    return p


@pytest.mark.parametrize("version", ["311", "5"])
@pytest.mark.parametrize("qos", [0, 1, 2])
def test_iot_pub_to_a_paho_subscriber(broker, version, qos):
    peer = PahoPeer(broker, version)
    try:
        peer.subscribe("paho/in/#", qos)
        lines = []
        for i, p in enumerate(PAYLOADS):
            rec = {"topic": f"paho/in/{i % 3}", "b64": base64.b64encode(p).decode()}
            if version == "5" and i % 2:
                rec["props"] = {"content_type": "application/octet-stream", "correlation_data": f"c{i}",
                                "response_topic": "paho/reply", "user": [["k", str(i)], ["k", "again"]]}
            lines.append(json.dumps(rec))
        r = run("iot-pub", broker.url, "-V", version, "-q", str(qos), input="\n".join(lines) + "\n")
        assert r.returncode == 0, r.stderr.decode()
        got = peer.wait_for(len(PAYLOADS))
        assert [m.payload for m in got] == PAYLOADS  # byte-exact, in order
        assert [m.topic for m in got] == [f"paho/in/{i % 3}" for i in range(len(PAYLOADS))]
        assert {m.qos for m in got} == {qos}
        if version == "5":
            for i, m in enumerate(got):
                if i % 2:
                    assert m.properties.ContentType == "application/octet-stream"
                    assert m.properties.CorrelationData == f"c{i}".encode()
                    assert m.properties.ResponseTopic == "paho/reply"
                    assert m.properties.UserProperty == [("k", str(i)), ("k", "again")]
                else:
                    assert not hasattr(m.properties, "ContentType")
    finally:
        peer.close()


@pytest.mark.parametrize("version", ["311", "5"])
@pytest.mark.parametrize("qos", [0, 1, 2])
def test_a_paho_publisher_to_iot_sub(broker, procs, version, qos):
    sub = procs("iot-sub", broker.url, "--verbose", "-V", version, "-t", "paho/out/#", "-q", str(qos),
                "-C", str(len(PAYLOADS)), "-W", "30s", "--format", "jsonl", "--payload", "b64")
    sub.wait_stderr("subscribed to")
    peer = PahoPeer(broker, version)
    try:
        for i, p in enumerate(PAYLOADS):
            kw = {}
            if version == "5" and i % 2:
                kw["properties"] = props_v5(ContentType="text/x", CorrelationData=bytes([0xff, i % 256]),
                                            UserProperty=[("site", "north"), ("n", str(i))])
            peer.c.publish(f"paho/out/{i}", p, qos=qos, **kw).wait_for_publish(10)
        code, out, err = sub.finish()
        assert code == 0, err.decode()
        got = records(out)
        assert [base64.b64decode(r["b64"]) for r in got] == PAYLOADS  # byte-exact, in order
        assert [r["topic"] for r in got] == [f"paho/out/{i}" for i in range(len(PAYLOADS))]
        assert {r["qos"] for r in got} == {qos}
        if version == "5":
            for i, r in enumerate(got):
                if i % 2:
                    assert r["props"] == {"content_type": "text/x",
                                          "correlation_data_b64": base64.b64encode(bytes([0xff, i % 256])).decode(),
                                          "user": [["site", "north"], ["n", str(i)]]}
                else:
                    assert "props" not in r
    finally:
        peer.close()


@pytest.mark.parametrize("version", ["311", "5"])
def test_the_will_of_a_killed_iot_pub_reaches_paho(broker, procs, version):
    peer = PahoPeer(broker, version)
    try:
        peer.subscribe(f"paho/will/{version}", 1)
        pub = procs("iot-pub", broker.url, "--verbose", "-V", version, "-t", "x", "--will-topic", f"paho/will/{version}",
                    "--will-payload", "gone", "--will-qos", "1", "--will-retain", stdin=subprocess.PIPE)
        pub.wait_stderr("connected to")
        pub.kill()  # by its PID, SIGKILL: no DISCONNECT, so the broker publishes the will
        m = peer.wait_for(1)[0]
        assert (m.topic, m.payload, m.qos) == (f"paho/will/{version}", b"gone", 1)
    finally:
        peer.close()


@pytest.mark.parametrize("version", ["311", "5"])
def test_messages_kept_for_an_offline_session_all_arrive(broker, procs, version):
    """iot-sub -c: the broker keeps QoS 1 messages while it is away and sends them right after
    CONNACK, before it answers the new SUBSCRIBE; every one is printed, once, in order."""
    cid = f"paho-offline-{version}"
    sub = procs("iot-sub", broker.url, "--verbose", "-V", version, "-c", "-i", cid, "-t", "kept/#", "-q", "1", "-C", "1")
    sub.wait_stderr("subscribed to")
    peer = PahoPeer(broker, version)
    try:
        peer.c.publish("kept/first", b"0", qos=1).wait_for_publish(10)
        assert sub.finish()[0] == 0
        n = 500
        for i in range(1, n + 1):
            peer.c.publish(f"kept/{i}", str(i).encode(), qos=1).wait_for_publish(10)
    finally:
        peer.close()
    r = run("iot-sub", broker.url, "-V", version, "-c", "-i", cid, "-t", "kept/#", "-q", "1", "-C", str(n), "-W", "30s")
    assert r.returncode == 0, r.stderr.decode()
    assert [x["json"] for x in records(r.stdout)] == list(range(1, n + 1))


def test_iot_sub_raw_output_is_the_bare_payloads(broker, procs):
    """--format raw prints each payload and a newline, nothing else (no record is built for it)."""
    sub = procs("iot-sub", broker.url, "--verbose", "-t", "raw/#", "-C", "3", "--format", "raw")
    sub.wait_stderr("subscribed to")
    peer = PahoPeer(broker, "311")
    try:
        for p in [b"one", b"\x00\xffbin", b""]:
            peer.c.publish("raw/x", p, qos=1).wait_for_publish(10)
    finally:
        peer.close()
    code, out, err = sub.finish()
    assert code == 0, err.decode()
    assert out == b"one\n\x00\xffbin\n\n"


def test_rr_against_a_paho_responder_names_the_request_with_no_reply(broker):
    """iot-pub --rr (as mosquitto_rr) against a Paho service that answers each request on its
    response topic with its correlation data, except 'silent': each reply is printed, the silent
    request is named and the next one still goes; the run exits 124 (a CI step fails)."""
    svc = mqtt.Client(protocol=mqtt.MQTTv5)
    ready = threading.Event()
    svc.on_subscribe = lambda *a: ready.set()

    def answer(c, _u, msg):
        if msg.payload == b"silent":
            return
        props = Properties(PacketTypes.PUBLISH)
        props.CorrelationData = msg.properties.CorrelationData
        c.publish(msg.properties.ResponseTopic, b"re:" + msg.payload, qos=1, properties=props)

    svc.on_message = answer
    svc.connect("127.0.0.1", broker.port, keepalive=30)
    svc.subscribe("svc/echo", qos=1)
    svc.loop_start()
    try:
        assert ready.wait(10), "the Paho service did not subscribe"
        r = run("iot-pub", broker.url, "-V", "5", "-t", "svc/echo", "--rr", "--reply-timeout", "1s", "-l",
                "--stats", input="one\nsilent\ntwo\n")
        err = r.stderr.decode()
        assert r.returncode == 124, err
        assert "line 2: no reply on m2mkit/rr/" in err and "within 1s" in err
        assert [x["text"] for x in records(r.stdout)] == ["re:one", "re:two"]
        st = json.loads(err[err.index("stats: ") + 7:].splitlines()[0])
        assert (st["replies"], st["reply_timeouts"]) == (2, 1)
        ok = run("iot-pub", broker.url, "-V", "5", "-t", "svc/echo", "--rr", "--reply-timeout", "5s", "-m", "x")
        assert ok.returncode == 0 and records(ok.stdout)[0]["text"] == "re:x", ok.stderr.decode()
    finally:
        svc.loop_stop()
        svc.disconnect()
