"""iot-pub and iot-sub against a real mosquitto broker: interop with mosquitto_pub/sub both ways
(byte-exact), no loss at QoS 1, a broker restart in mid-stream, TLS and passwords."""
import base64
import json
import os
import random
import subprocess
import time

import pytest
from conftest import records, run, stats_of, tool
from mqtt_broker import Broker, make_certs


@pytest.fixture
def broker(tmp_path):
    b = Broker(tmp_path).start()
    yield b
    b.stop()


def subscriber(procs, broker_url, *args):
    """iot-sub, returned once its subscription is in place (it says so with -v)."""
    p = procs("iot-sub", broker_url, "--verbose", *args)
    p.wait_stderr("subscribed to")
    return p


def mosquitto_sub(broker, prefix, count, *args, fmt="PAYLOAD=%x"):
    """mosquitto_sub on PREFIX/# printing each payload as PAYLOAD=hex, returned once it has
    subscribed: it first receives a retained probe published for the purpose."""
    subprocess.run(["mosquitto_pub", "-p", str(broker.port), "-t", f"{prefix}/ready", "-m", "probe", "-r"] +
                   [a for a in args if a in ("-V", "5")], check=True)
    p = subprocess.Popen(["mosquitto_sub", "-h", "127.0.0.1", "-p", str(broker.port), "-F", fmt, "-t", f"{prefix}/#",
                          "-C", str(count + 1), "-W", "30", *args],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    assert p.stdout.readline().startswith(b"PAYLOAD=" + b"probe".hex().encode()), "mosquitto_sub did not subscribe"
    return p


def payloads_of(mosq_stdout):
    return [bytes.fromhex(line.split()[0][8:]) for line in mosq_stdout.decode().splitlines()
            if line.startswith("PAYLOAD=")]


BINARY = bytes(range(256)) + bytes(random.Random(7).getrandbits(8) for _ in range(700))


@pytest.mark.parametrize("qos", [0, 1, 2])
def test_mosquitto_pub_to_iot_sub_is_byte_exact(broker, procs, tmp_path, qos):
    mosquitto_pub_to_iot_sub(broker, procs, tmp_path, qos)


def mosquitto_pub_to_iot_sub(broker, procs, tmp_path, qos):
    """Text, JSON, spaced JSON and binary from mosquitto_pub arrive in iot-sub's records as sent
    (test_aedes runs it through the second broker)."""
    sub = subscriber(procs, broker.url, "-t", "t/#", "-q", str(qos), "-C", "4", "-W", "20s")
    (tmp_path / "bin").write_bytes(BINARY)
    base = ["mosquitto_pub", "-h", "127.0.0.1", "-p", str(broker.port), "-q", str(qos)]
    subprocess.run(base + ["-t", "t/text", "-m", "héllo wörld\ttab"], check=True)
    subprocess.run(base + ["-t", "t/json", "-m", '{"temp":21.5,"ok":true}'], check=True)
    subprocess.run(base + ["-t", "t/spaced", "-m", '{"a": 1}'], check=True)
    subprocess.run(base + ["-t", "t/bin", "-f", str(tmp_path / "bin")], check=True)
    code, out, err = sub.finish()
    assert code == 0, err.decode()
    recs = records(out)
    assert [r["topic"] for r in recs] == ["t/text", "t/json", "t/spaced", "t/bin"]
    assert all(r["qos"] == qos and r["retain"] is False for r in recs)
    assert recs[0]["text"] == "héllo wörld\ttab"
    assert recs[1]["json"] == {"temp": 21.5, "ok": True}
    assert recs[2]["text"] == '{"a": 1}'  # JSON with spaces stays text: republishing gives the same bytes
    assert base64.b64decode(recs[3]["b64"]) == BINARY
    assert [r["seq"] for r in recs] == [1, 2, 3, 4]


@pytest.mark.parametrize("qos", [0, 1, 2])
def test_iot_pub_to_mosquitto_sub_is_byte_exact(broker, qos):
    iot_pub_to_mosquitto_sub(broker, qos)


def iot_pub_to_mosquitto_sub(broker, qos):
    """Each payload kind of a record reaches mosquitto_sub byte for byte (and test_aedes's broker)."""
    sub = mosquitto_sub(broker, "u", 4, "-q", str(qos))
    lines = [{"topic": "u/text", "text": "héllo\nworld"},
             {"topic": "u/json", "json": {"temp": 21.5, "list": [1, 2]}},
             {"topic": "u/hex", "hex": "00ff10c0"},
             {"topic": "u/b64", "b64": base64.b64encode(BINARY).decode()}]
    r = run("iot-pub", broker.url, "-q", str(qos), "--stats",
            input="".join(json.dumps(x, ensure_ascii=False) + "\n" for x in lines))
    assert r.returncode == 0, r.stderr.decode()
    st = stats_of(r.stderr)
    assert st["published"] == 4 and st["acked"] == (4 if qos else 0)
    out, _ = sub.communicate(timeout=20)
    assert payloads_of(out) == ["héllo\nworld".encode(), b'{"temp":21.5,"list":[1,2]}', bytes.fromhex("00ff10c0"),
                                BINARY]


def test_iot_sub_output_published_again_gives_the_same_bytes(broker, procs, tmp_path):
    """iot-sub | iot-pub: every payload kind survives the trip through a record."""
    sub = subscriber(procs, broker.url, "-t", "in/#", "-C", "3", "-W", "20s")
    for payload in [b"plain", b'{"a":[1,2]}', BINARY]:
        (tmp_path / "p").write_bytes(payload)
        subprocess.run(["mosquitto_pub", "-p", str(broker.port), "-t", "in/x", "-f", str(tmp_path / "p")], check=True)
    code, out, _ = sub.finish()
    assert code == 0
    msub = mosquitto_sub(broker, "in", 3)
    r = run("iot-pub", broker.url, input=out)
    assert r.returncode == 0, r.stderr.decode()
    got, _ = msub.communicate(timeout=20)
    assert payloads_of(got) == [b"plain", b'{"a":[1,2]}', BINARY]


def test_retained_messages_and_their_options(broker, procs):
    r = run("iot-pub", broker.url, "-t", "r/lamp", "-m", "on", "-r", "-q", "1")
    assert r.returncode == 0, r.stderr.decode()
    r = run("iot-sub", broker.url, "-t", "r/#", "--retained-only", "-W", "5s")
    # --retained-only ends at the first live message; with none coming, the timeout ends it
    assert r.returncode == 124
    recs = records(r.stdout)
    assert [(x["topic"], x["text"], x["retain"]) for x in recs] == [("r/lamp", "on", True)]
    sub = subscriber(procs, broker.url, "-t", "r/#", "-R", "-C", "1", "-W", "10s")
    subprocess.run(["mosquitto_pub", "-p", str(broker.port), "-t", "r/live", "-m", "now"], check=True)
    code, out, _ = sub.finish()
    assert code == 0 and [x["topic"] for x in records(out)] == ["r/live"]  # the retained one was skipped
    assert run("iot-pub", broker.url, "-t", "r/lamp", "-n", "-r").returncode == 0  # clears it
    assert run("iot-sub", broker.url, "-t", "r/#", "--retained-only", "-W", "1s").stdout == b""


def test_mqtt5_user_properties_both_ways(broker, procs):
    sub = subscriber(procs, broker.url, "-V", "5", "-t", "p/#", "-C", "2", "-W", "20s")
    subprocess.run(["mosquitto_pub", "-p", str(broker.port), "-V", "5", "-t", "p/a", "-m", "x",
                    "-D", "publish", "user-property", "site", "north",
                    "-D", "publish", "content-type", "text/plain"], check=True)
    r = run("iot-pub", broker.url, "-V", "5", "-D", "line=2",
            input='{"topic":"p/b","text":"y","props":{"user":[["site","south"],["site","east"]],"correlation_data":"c1"}}\n')
    assert r.returncode == 0, r.stderr.decode()
    code, out, err = sub.finish()
    assert code == 0, err.decode()
    a, b = records(out)
    assert a["props"] == {"content_type": "text/plain", "user": [["site", "north"]]}
    assert b["props"] == {"correlation_data": "c1", "user": [["line", "2"], ["site", "south"], ["site", "east"]]}
    # and mosquitto_sub sees iot-pub's user properties
    msub = mosquitto_sub(broker, "p5", 1, "-V", "5", fmt="PAYLOAD=%x %P")
    assert run("iot-pub", broker.url, "-V", "5", "-t", "p5/c", "-m", "z", "-D", "k=v").returncode == 0
    out, _ = msub.communicate(timeout=20)
    assert "k:v" in out.decode()


def test_qos1_round_trip_of_100k_records_loses_nothing(broker, procs, tmp_path):
    n = 100_000
    sub = subscriber(procs, broker.url, "-t", "load/#", "-q", "1", "-C", str(n), "-W", "120s", "--stats")
    data = "".join(f'{{"topic":"load/{i % 10}","json":{{"n":{i}}}}}\n' for i in range(n))
    (tmp_path / "in.jsonl").write_text(data)
    with open(tmp_path / "in.jsonl", "rb") as f:
        r = subprocess.run([os.path.join(os.environ.get("M2MKIT_BIN", ""), "iot-pub"), broker.url, "-q", "1", "--stats"],
                           stdin=f, capture_output=True, timeout=180)
    assert r.returncode == 0, r.stderr.decode()
    st = stats_of(r.stderr)
    assert st["published"] == n and st["acked"] == n and st["failed"] == 0
    code, out, err = sub.finish(timeout=180)
    assert code == 0, err.decode()
    recs = records(out)
    assert sorted(x["json"]["n"] for x in recs) == list(range(n))
    assert [x["seq"] for x in recs] == list(range(1, n + 1))


def test_200k_lines_at_qos1_all_arrive(broker, procs, tmp_path):
    """mosquitto_pub -l stops after 65,535 in-flight ids at QoS 1/2 and exits 0; iot-pub -l does not."""
    n = 200_000
    sub = subscriber(procs, broker.url, "-t", "lines", "-q", "1", "-C", str(n), "-W", "180s", "--payload", "text")
    (tmp_path / "lines").write_text("".join(f"{i}\n" for i in range(n)))
    with open(tmp_path / "lines", "rb") as f:
        r = subprocess.run([os.path.join(os.environ.get("M2MKIT_BIN", ""), "iot-pub"), broker.url, "-l", "-t", "lines",
                            "-q", "1", "--stats"], stdin=f, capture_output=True, timeout=240)
    assert r.returncode == 0, r.stderr.decode()
    assert stats_of(r.stderr)["acked"] == n
    code, out, err = sub.finish(timeout=240)
    assert code == 0, err.decode()
    assert sorted(int(x["text"]) for x in records(out)) == list(range(n))


def test_20k_lines_at_qos2_all_arrive(broker, procs, tmp_path):
    """At QoS 2, mosquitto acknowledges but drops what exceeds its in-flight limit: the default
    window must stay within it."""
    n = 20_000
    sub = subscriber(procs, broker.url, "-t", "q2", "-q", "2", "-C", str(n), "-W", "120s", "--payload", "text")
    (tmp_path / "lines").write_text("".join(f"{i}\n" for i in range(n)))
    with open(tmp_path / "lines", "rb") as f:
        r = subprocess.run([os.path.join(os.environ.get("M2MKIT_BIN", ""), "iot-pub"), broker.url, "-l", "-t", "q2",
                            "-q", "2", "--stats"], stdin=f, capture_output=True, timeout=180)
    assert r.returncode == 0, r.stderr.decode()
    assert stats_of(r.stderr)["acked"] == n
    code, out, err = sub.finish(timeout=180)
    assert code == 0, err.decode()
    assert sorted(int(x["text"]) for x in records(out)) == list(range(n))


def test_qos2_window_over_the_brokers_limit_adapts(broker, procs):
    """mosquitto 2.0 drops a client with more than 20 QoS 2 messages in flight. Asked for 100,
    iot-pub says so, halves its QoS 2 window after each such loss, and delivers everything."""
    n = 3000
    sub = subscriber(procs, broker.url, "-t", "w2", "-q", "2", "--until", "^end$", "-W", "60s")
    r = run("iot-pub", broker.url, "-l", "-t", "w2", "-q", "2", "--max-inflight", "100", "--stats",
            input="".join(f"{i}\n" for i in range(n)))
    assert r.returncode == 0, r.stderr.decode()
    assert "QoS 2 messages in flight and none acknowledged" in r.stderr.decode()
    st = stats_of(r.stderr)
    assert st["acked"] == n and 1 <= st["reconnects"] <= 7, st
    # every message was acknowledged, so a marker sent now arrives after all of them
    assert run("iot-pub", broker.url, "-t", "w2", "-q", "2", "-m", "end").returncode == 0
    code, out, err = sub.finish()
    assert code == 0, err.decode()
    got = [x["json"] for x in records(out)[:-1]]
    # a message the broker took before it dropped the connection may come twice (resent)
    assert set(got) == set(range(n)) and len(got) - n <= 100 * st["reconnects"]


def test_broker_restart_mid_stream_loses_nothing(tmp_path, procs):
    """The broker goes away for 3 s in the middle of a QoS 1 stream and comes back: every message
    arrives (duplicates allowed, counted), neither tool exits.

    Two subscribers: `live` stays connected through the restart (it must reconnect and
    re-subscribe), `durable` has a persistent session that is offline meanwhile (the broker keeps
    its queue across the restart). The stop comes while iot-pub has messages in flight."""
    b = Broker(tmp_path, persistence=True).start()
    try:
        durable = subscriber(procs, b.url, "-t", "s/#", "-q", "1", "-c", "-i", "durable-sub")
        assert durable.interrupt()[0] == 130  # the session stays on the broker, with its subscription
        live = subscriber(procs, b.url, "-t", "s/#", "-q", "1", "-c", "-i", "live-sub", "--stats",
                          "--payload", "text")
        pub = procs("iot-pub", b.url, "-t", "s/x", "-q", "1", "-l", "--stats", stdin=subprocess.PIPE)
        n = 30000

        def feed(lo, hi):
            pub.p.stdin.write("".join(f"{i}\n" for i in range(lo, hi)).encode())
            pub.p.stdin.flush()

        def seen(sub):
            return [int(x["text"]) for x in records(sub.out[:sub.out.rfind(b"\n") + 1])]

        feed(0, 20000)
        live.read_until(lambda out: out.count(b"\n") >= 500)
        b.stop()  # while iot-pub still has messages in flight
        time.sleep(3)  # the outage itself is what is being tested
        feed(20000, 25000)  # buffered by iot-pub while the broker is away
        b.start()
        feed(25000, n)
        pub.p.stdin.close()
        pub.p.stdin = None  # closed: communicate() must not flush it
        code, _, perr = pub.finish(timeout=120)
        assert code == 0, perr.decode()
        pst = stats_of(perr)
        # each message is acknowledged once; what the cut left unacknowledged was sent again
        assert pst["reconnects"] >= 1 and pst["acked"] == pst["published"] - pst["failed"] == n
        assert pst["resent"] >= 1

        durable = subscriber(procs, b.url, "-t", "s/#", "-q", "1", "-c", "-i", "durable-sub", "--stats",
                             "--payload", "text")
        try:
            durable.read_until(lambda out: set(seen(durable)) >= set(range(n)), timeout=60)
        finally:
            missing = sorted(set(range(n)) - set(seen(durable)))
            assert not missing, f"{len(missing)} missing: {missing[:20]}...{missing[-5:]}"
        code, out, err = durable.interrupt()
        assert code == 130
        assert stats_of(err)["received"] == len(records(out)) >= n  # what came twice is counted, not hidden

        live.read_until(lambda out: n - 1 in seen(live), timeout=60)
        assert live.p.poll() is None, "iot-sub exited when the broker went away"
        missing = sorted(set(range(n)) - set(seen(live)))
        assert not missing, f"{len(missing)} missing: {missing[:20]}...{missing[-5:]}"
        code, out, err = live.interrupt()
        assert code == 130
        st = stats_of(err)
        assert st["reconnects"] >= 1 and st["received"] == len(records(out))
    finally:
        b.stop()


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    return make_certs(tmp_path_factory.mktemp("certs"))


def test_tls_with_the_right_ca_and_a_password(tmp_path, certs, procs):
    b = Broker(tmp_path, tls=certs, passwords={"ops": "s3cret"}).start()
    try:
        (tmp_path / "pw").write_text("s3cret\n")
        cred = ["-u", "ops", "--password-file", str(tmp_path / "pw"), "--cafile", certs["ca"]]
        sub = subscriber(procs, b.tls_url, *cred, "-t", "tls/#", "-C", "1", "-W", "20s")
        r = run("iot-pub", b.tls_url, *cred, "-t", "tls/x", "-m", "secure", "-q", "1")
        assert r.returncode == 0, r.stderr.decode()
        code, out, err = sub.finish()
        assert code == 0, err.decode()
        assert records(out)[0]["text"] == "secure" and records(out)[0]["src"] == b.tls_url
    finally:
        b.stop()


def test_tls_with_the_wrong_ca_is_refused_clearly(tmp_path, certs):
    b = Broker(tmp_path, tls=certs).start()
    try:
        r = run("iot-sub", b.tls_url, "--cafile", certs["other_ca"], "-t", "x")
        assert r.returncode == 4
        assert "certificate is not trusted" in r.stderr.decode()
        r = run("iot-pub", b.tls_url, "--insecure", "-t", "x", "-m", "y")  # the explicit opt-out
        assert r.returncode == 0, r.stderr.decode()
    finally:
        b.stop()


def test_iot_pub_with_the_wrong_ca_is_refused_clearly(tmp_path, certs):
    """iot-pub verifies the broker too."""
    b = Broker(tmp_path, tls=certs).start()
    try:
        r = run("iot-pub", b.tls_url, "--cafile", certs["other_ca"], "-t", "x", "-m", "y")
        assert r.returncode == 4, r.stderr.decode()
        assert "certificate is not trusted" in r.stderr.decode()
    finally:
        b.stop()


def test_iot_pub_will_is_published_when_it_vanishes(broker, procs):
    """The last will rides in iot-pub's CONNECT: killed, iot-pub leaves its will behind, MQTT 5 too."""
    for v in ["311", "5"]:
        sub = subscriber(procs, broker.url, "-t", f"gone/{v}", "-q", "1", "-C", "1", "-W", "20s")
        pub = procs("iot-pub", broker.url, "--verbose", "-V", v, "-t", "x", "--will-topic", f"gone/{v}",
                    "--will-payload", "bye", "--will-qos", "1", stdin=subprocess.PIPE)
        pub.wait_stderr("connected to")
        pub.kill()  # SIGKILL, by its PID: no DISCONNECT, so the broker sends the will
        code, out, err = sub.finish()
        assert code == 0, err.decode()
        assert [(x["topic"], x["text"], x["qos"]) for x in records(out)] == [(f"gone/{v}", "bye", 1)]


def test_one_message_processes_close_at_once_and_leave_no_will(broker, procs):
    """iot-pub -m closes its socket right after the DISCONNECT when the broker has nothing more to
    send (no acknowledgement awaited, no subscription): every message still arrives, and none of
    the runs leaves its last will -- the broker read the DISCONNECT before the close."""
    runs = [(v, q) for v in ["311", "5"] for q in ["0", "1"] for _ in range(5)]
    sub = subscriber(procs, broker.url, "-t", "once/#", "-q", "1", "-C", str(len(runs) + 1), "-W", "30s")
    for i, (v, q) in enumerate(runs):
        r = run("iot-pub", broker.url, "-V", v, "-q", q, "-t", "once/msg", "-m", str(i),
                "--will-topic", "once/will", "--will-payload", f"will {i}")
        assert r.returncode == 0, r.stderr.decode()
    r = run("iot-pub", broker.url, "-q", "1", "-t", "once/end", "-m", "end")  # after any will
    assert r.returncode == 0, r.stderr.decode()
    code, out, err = sub.finish()
    assert code == 0, err.decode()
    got = [(x["topic"], x.get("json", x.get("text"))) for x in records(out)]
    assert got == [("once/msg", i) for i in range(len(runs))] + [("once/end", "end")]


def test_mqtt5_qos2_and_persist_paths(broker, procs, tmp_path):
    """QoS 2 under MQTT 5, and QoS 1 through --persist (the journal): everything arrives, in
    order, every message acknowledged."""
    n = 2000
    lines = "".join(f"{i}\n" for i in range(n))
    for args in (["-V", "5", "-q", "2"], ["-q", "1", "--persist", str(tmp_path / "store")]):
        sub = subscriber(procs, broker.url, "-t", "pp", "-q", "2", "-C", str(n), "-W", "60s")
        r = run("iot-pub", broker.url, "-l", "-t", "pp", "--stats", *args, input=lines)
        assert r.returncode == 0, r.stderr.decode()
        st = stats_of(r.stderr)
        assert st["acked"] == st["published"] == n, st
        code, out, err = sub.finish()
        assert code == 0, err.decode()
        assert [x["json"] for x in records(out)] == list(range(n))  # "7" is compact JSON


def test_bad_password_is_not_authorised(tmp_path):
    b = Broker(tmp_path, passwords={"ops": "s3cret"}).start()
    try:
        for v in ["311", "5"]:
            r = run("iot-pub", b.url, "-V", v, "-u", "ops", "-t", "x", "-m", "y",
                    env={"M2MKIT_MQTT_PASSWORD": "wrong"})
            assert r.returncode == 4, r.stderr.decode()
            assert "not authorised" in r.stderr.decode()
        r = run("iot-pub", b.url, "-u", "ops", "-t", "x", "-m", "y", env={"M2MKIT_MQTT_PASSWORD": "s3cret"})
        assert r.returncode == 0, r.stderr.decode()
    finally:
        b.stop()


def test_unreachable_broker_and_bad_input(broker):
    from mqtt_broker import free_port
    r = run("iot-sub", f"mqtt://127.0.0.1:{free_port()}", "-t", "x")
    assert r.returncode == 4 and "connection refused" in r.stderr.decode()
    r = run("iot-sub", "-h", "nosuchhost.invalid", "-t", "x")
    assert r.returncode == 4 and "cannot resolve 'nosuchhost.invalid'" in r.stderr.decode(), r.stderr.decode()
    for t in ("iot-sub", "loadgen"):  # not a broker URI: a usage error
        r = run(t, "tcp://127.0.0.1:1883", "-t", "x")
        assert r.returncode == 2 and "expected mqtt://" in r.stderr.decode(), r.stderr.decode()
    r = run("iot-pub", broker.url, "-t", "plant/{dev}", "--stats",
            input='{"dev":"a","text":"1"}\n{"text":"2"}\nnot json\n{"dev":"b+","text":"3"}\n{"dev":7,"text":"4"}\n')
    assert r.returncode == 0
    err = r.stderr.decode()
    assert "line 2: the topic template needs field 'dev'" in err
    assert "line 3:" in err
    assert "line 4: topic 'plant/b+' has a wildcard" in err
    st = stats_of(r.stderr)
    assert st["published"] == 2 and st["bad_records"] == 3
    r = run("iot-pub", broker.url, "-t", "plant/{dev}", "--strict", input='{"text":"2"}\n')
    assert r.returncode == 3
    assert run("iot-pub", broker.url, "-t", "a/#", "-m", "x").returncode == 2
    assert run("iot-sub", broker.url).returncode == 2  # no topic
    assert run("iot-pub", "http://x", "-t", "a", "-m", "x").returncode == 2


def test_a_topic_too_long_for_mqtt_is_refused_not_injected(broker, procs):
    """A topic over 65,535 bytes would wrap its 16-bit length, and the broker would read the rest
    as another topic: a record whose dev is 'victim/cmd' + 65,531 bytes once reached subscribers of
    plant/victim/cmd. It is refused and named; the next record goes out."""
    sub = subscriber(procs, broker.url, "-t", "#", "-q", "1", "-C", "1", "-W", "20s")
    evil = json.dumps({"dev": "victim/cmd" + "x" * 65531, "text": "injected"})
    for v in ["311", "5"]:
        r = run("iot-pub", broker.url, "-V", v, "-t", "{dev}", "-q", "1", "--stats", input=evil + "\n")
        assert r.returncode == 0, r.stderr.decode()
        assert "line 1: topic of 65541 bytes: MQTT allows at most 65,535" in r.stderr.decode()
        assert stats_of(r.stderr)["bad_records"] == 1
    r = run("iot-pub", broker.url, "-t", "plant/ok", "-q", "1", input='{"text":"fine"}\n')
    assert r.returncode == 0, r.stderr.decode()
    code, out, err = sub.finish()
    assert code == 0, err.decode()
    assert [(x["topic"], x["text"]) for x in records(out)] == [("plant/ok", "fine")]


MAX_PACKET = 268435455  # the largest remaining length MQTT can express


def test_a_message_over_the_packet_limit_is_refused_locally(broker, procs, tmp_path):
    """A message over MQTT's 256 MiB packet limit made iot-pub reconnect and resend it ~12 times a
    second forever. It is refused before a byte is written: -f exits 3 having published nothing; a
    stdin line (with --max-line raised) is counted, named, and the next line goes out. The files are
    sparse: no disk is used for the zeros."""
    sub = subscriber(procs, broker.url, "-t", "big", "-q", "1", "-C", "1", "-W", "60s")
    big = tmp_path / "big.bin"
    with open(big, "wb") as f:
        f.truncate(MAX_PACKET)
    r = run("iot-pub", broker.url, "-t", "big", "-q", "1", "-f", str(big))
    assert r.returncode == 3, r.stderr.decode()
    assert f"-f '{big}': {MAX_PACKET} bytes, over MQTT's packet limit of 256 MiB; nothing published" in \
        r.stderr.decode()
    lines = tmp_path / "lines.txt"
    with open(lines, "wb") as f:
        f.seek(MAX_PACKET)  # line 1: MAX_PACKET zero bytes
        f.write(b"\nafter\n")
    with open(lines, "rb") as stdin:
        r = subprocess.run([tool("iot-pub"), broker.url, "-l", "-t", "big", "-q", "1", "--stats",
                            "--max-line", str(MAX_PACKET + 1)], stdin=stdin, capture_output=True, timeout=120)
    err = r.stderr.decode()
    assert r.returncode == 0, err
    assert f"line 1: message of {MAX_PACKET} bytes: over MQTT's packet limit of 256 MiB" in err
    st = stats_of(r.stderr)
    assert st["published"] == 1 and st["bad_records"] == 1 and st["reconnects"] == 0
    code, out, err = sub.finish()
    assert code == 0, err.decode()
    assert [x["text"] for x in records(out)] == ["after"]


def test_iot_pub_skips_an_overlong_line_and_goes_on(broker, procs):
    """iot-pub -l with a 1.5 MB line under the default 1 MiB --max-line: reported, skipped, the
    next line published (it stopped reading at 1 MiB and hung)."""
    sub = subscriber(procs, broker.url, "-t", "long", "-q", "1", "-C", "2", "-W", "30s")
    text = b"before\n" + b"x" * 1_500_000 + b"\nafter\n"
    r = run("iot-pub", broker.url, "-l", "-t", "long", "-q", "1", "--stats", input=text, timeout=60)
    assert r.returncode == 0, r.stderr.decode()
    assert "line 2: longer than" in r.stderr.decode()
    st = stats_of(r.stderr)
    assert st["published"] == 2 and st["bad_records"] == 1
    code, out, err = sub.finish()
    assert code == 0, err.decode()
    assert [x["text"] for x in records(out)] == ["before", "after"]


def test_a_password_in_the_uri_is_refused_with_the_ways_that_work(broker):
    """mqtt://user:password@host once sent 'user:password' as the user name, into the broker's log."""
    for t, extra in [("iot-pub", ["-t", "x", "-m", "y"]), ("iot-sub", ["-t", "x"]), ("loadgen", ["--devices", "1"])]:
        r = run(t, f"mqtt://ops:s3cret@127.0.0.1:{broker.port}", *extra)
        err = r.stderr.decode()
        assert r.returncode == 2, err
        assert "--password-file" in err and "M2MKIT_MQTT_PASSWORD" in err and "prompt" in err, err
        assert "s3cret" not in err


def test_iot_sub_max_message_skips_counts_and_still_acknowledges(broker, procs, tmp_path):
    """A 5 MB message over --max-message 1000 is skipped without being held, warned about and
    counted; the small one after it is printed; the big one was acknowledged, so a later session
    under the same id does not get it again."""
    sub = subscriber(procs, broker.url, "-t", "big/#", "-q", "1", "-i", "maxmsg", "-c", "--max-message", "1000",
                     "-C", "1", "-W", "30s", "--stats")
    (tmp_path / "big").write_bytes(b"z" * 5_000_000)
    base = ["mosquitto_pub", "-h", "127.0.0.1", "-p", str(broker.port), "-q", "1"]
    subprocess.run(base + ["-t", "big/one", "-f", str(tmp_path / "big")], check=True)
    subprocess.run(base + ["-t", "big/two", "-m", "small"], check=True)
    code, out, err = sub.finish()
    assert code == 0, err.decode()
    assert [(r["topic"], r["text"]) for r in records(out)] == [("big/two", "small")]
    assert "big/one: message of 5000000 bytes is over --max-message 1000; skipped" in err.decode()
    assert stats_of(err)["drops"] == {"over_max_message": 1}
    # the same session again: a marker published now comes first, nothing queued before it
    subprocess.run(base + ["-t", "big/three", "-m", "marker"], check=True)
    r = run("iot-sub", broker.url, "-t", "big/#", "-q", "1", "-i", "maxmsg", "-c", "-C", "1", "-W", "10s")
    assert r.returncode == 0, r.stderr.decode()
    assert [x["topic"] for x in records(r.stdout)] == ["big/three"]


def test_set_adds_the_field_a_topic_template_needs(broker, procs, tmp_path):
    """The README's gateway line: m2m-listen ... --set dev=pump1 | iot-pub .../plant/{dev} publishes
    to plant/pump1 (it published nothing: 'the topic template needs field dev')."""
    sub = subscriber(procs, broker.url, "-t", "plant/#", "-q", "1", "-C", "2", "-W", "20s")
    dev_out = tmp_path / "device.txt"
    dev_out.write_text("T=21.4\nT=21.5\n")
    listen = subprocess.Popen([tool("m2m-listen"), f"file:{dev_out}", "--set", "dev=pump1", "--set", "line=3"],
                              stdout=subprocess.PIPE, stdin=subprocess.DEVNULL)
    pub = subprocess.run([tool("iot-pub"), f"{broker.url}/plant/{{dev}}", "-q", "1", "--whole"],
                         stdin=listen.stdout, capture_output=True, timeout=30)
    listen.stdout.close()
    assert listen.wait(timeout=30) == 0
    assert pub.returncode == 0, pub.stderr.decode()
    code, out, err = sub.finish()
    assert code == 0, err.decode()
    got = records(out)
    assert [g["topic"] for g in got] == ["plant/pump1", "plant/pump1"]
    inner = [g["json"] for g in got]  # --whole: each message is the record, with the fields --set added
    assert [(i["text"], i["dev"], i["line"]) for i in inner] == [("T=21.4", "pump1", 3), ("T=21.5", "pump1", 3)]
    # without it, the error says how to supply the field
    r = run("iot-pub", f"{broker.url}/plant/{{dev}}", input='{"text":"x"}\n')
    assert "add it upstream with --set dev=VALUE" in r.stderr.decode()


def test_flags_the_user_typed_win_over_the_records_fields(broker, procs):
    """iot-sub -t 'src/#' | iot-pub -t 'mirror/{topic}' -q 1 -r published at QoS 0, not retained:
    the incoming records' qos and retain overrode the typed flags. Now the flags win."""
    mirror = subprocess.Popen([tool("iot-sub"), broker.url, "-t", "src/#", "-C", "2", "-W", "20s", "--verbose"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    line = b""
    while b"subscribed to" not in line:  # its subscription is in place
        line = mirror.stderr.readline()
        assert line, "iot-sub ended before subscribing"
    pub = subprocess.Popen([tool("iot-pub"), broker.url, "-t", "mirror/{topic}", "-q", "1", "-r", "--stats"],
                           stdin=mirror.stdout, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    mirror.stdout.close()
    for i in range(2):
        assert run("iot-pub", broker.url, "-t", f"src/{i}", "-m", f"m{i}", "-q", "0").returncode == 0
    assert mirror.wait(timeout=30) == 0
    _, err = pub.communicate(timeout=30)
    assert pub.returncode == 0, err.decode()
    assert stats_of(err)["acked"] == 2  # QoS 1: acknowledged
    # a subscriber that comes later gets both as retained messages, at QoS 1
    r = run("iot-sub", broker.url, "-t", "mirror/#", "-q", "2", "-C", "2", "-W", "20s")
    assert r.returncode == 0, r.stderr.decode()
    got = sorted((g["topic"], g["text"], g.get("qos"), g.get("retain")) for g in records(r.stdout))
    assert got == [("mirror/src/0", "m0", 1, True), ("mirror/src/1", "m1", 1, True)]


def test_mosquitto_sub_output_flags_byte_for_byte(tmp_path):
    """iot-sub -v and -F print what mosquitto_sub -v and -F print, byte for byte, for text, binary,
    JSON, empty and MQTT 5 payloads with properties (times aside: each client stamps its own)."""
    import re
    broker = Broker(tmp_path).start()
    try:
        fmt = ("%t|%p|%x|%X|%l|%q|%r|%10t|%-10t|%.3t|%08l|%C|%R|%P|%E|%F|%D|%%|\\t|@@|%j|%J|%I|%U|@N|@Y"
               "\\n--\\0")
        cases = [["-m", "hello world"], ["-m", '{"a":[1,2.5,"x"]}'], ["-m", "tab\there \"quoted\" back\\slash"],
                 ["-n"], ["-m", "\u00e9t\u00e9 ok"],
                 ["-m", "v5", "-D", "publish", "content-type", "text/plain", "-D", "publish", "response-topic",
                  "re/ply", "-D", "publish", "user-property", "k", "v", "-D", "publish", "correlation-data", "c1",
                  "-D", "publish", "message-expiry-interval", "60", "-D", "publish", "payload-format-indicator", "1"]]
        # a retained probe: each subscriber's first message, so its arrival shows the subscription is made
        subprocess.run(["mosquitto_pub", "-p", str(broker.port), "-t", "fmt/0probe", "-m", "probe", "-r", "-q", "1"],
                       check=True)
        for extra in (["-v"], ["-F", fmt], ["-F", "%t %l", "-N"]):
            peers, got = [], []
            for cmd in ([tool("iot-sub")], ["mosquitto_sub"]):
                peers.append(subprocess.Popen(cmd + ["-p", str(broker.port), "-t", "fmt/#", "-V", "5", "-q", "1",
                                                     "-C", str(len(cases) + 2), "-W", "20", *extra],
                                              stdout=subprocess.PIPE, stderr=subprocess.PIPE))
            for p in peers:
                buf = b""
                while b"0probe" not in buf:
                    chunk = os.read(p.stdout.fileno(), 65536)
                    assert chunk, p.stderr.read()
                    buf += chunk
                got.append(buf)
            for i, c in enumerate(cases):
                subprocess.run(["mosquitto_pub", "-p", str(broker.port), "-t", f"fmt/{i}", "-q", "1", "-V", "5", *c],
                               check=True)
            binary = bytes(range(256))
            subprocess.run(["mosquitto_pub", "-p", str(broker.port), "-t", "fmt/bin", "-q", "1", "-s"], input=binary,
                           check=True)
            ours, theirs = [(got[i] + out, err) for i, (out, err) in enumerate(p.communicate(timeout=30)
                                                                                 for p in peers)]
            mask = lambda b: re.sub(rb"\d{4}-\d\d-\d\dT[0-9:.]+Z?[+-]\d{4}|\d{10}\.\d{9}|(?<=\|)\d{9}(?=\|)", b"T",
                                    b)
            a, b = mask(ours[0]), mask(theirs[0])
            at = next((i for i in range(min(len(a), len(b))) if a[i] != b[i]), min(len(a), len(b)))
            assert a == b, (extra, a[max(0, at - 150):at + 80], b[max(0, at - 150):at + 80])
            assert peers[0].returncode == peers[1].returncode == 0, ours[1]
    finally:
        broker.stop()


def test_mosquitto_sub_habits_filter_out_exit_after_subscribe_remove_retained(tmp_path):
    broker = Broker(tmp_path).start()
    try:
        pub = ["mosquitto_pub", "-p", str(broker.port), "-r", "-m"]
        subprocess.run(pub + ["1", "-t", "keep/a"], check=True)
        subprocess.run(pub + ["2", "-t", "keep/b/c"], check=True)
        subprocess.run(pub + ["3", "-t", "drop/x"], check=True)
        r = run("iot-sub", broker.url, "-t", "#", "-T", "keep/b/#", "-T", "drop/+", "-v", "--retained-only", "-W", "2s")
        assert r.stdout == b"keep/a 1\n", r.stderr
        r = run("iot-sub", broker.url, "-t", "x", "-E", "-c", "-i", "later", "-q", "1")
        assert r.returncode == 0 and r.stdout == b""  # subscribed, the session kept for later
        subprocess.run(["mosquitto_pub", "-p", str(broker.port), "-t", "x", "-m", "queued", "-q", "1"], check=True)
        r = run("iot-sub", broker.url, "-t", "x", "-c", "-i", "later", "-q", "1", "-C", "1", "-W", "5s", "-v")
        assert r.stdout == b"x queued\n"
        r = run("iot-sub", broker.url, "-t", "keep/#", "--retained-only", "--remove-retained", "-W", "2s", "-v")
        assert sorted(r.stdout.splitlines()) == [b"keep/a 1", b"keep/b/c 2"]
        r = run("iot-sub", broker.url, "-t", "#", "--retained-only", "-W", "1s", "-v")
        assert r.stdout == b"drop/x 3\n"  # keep/# was cleared, the rest is untouched
        for args, why in ((["-v", "-F", "%t"], "-v and -F exclude each other"), (["-N"], "-N goes with -v or -F"),
                          (["-F", "%Z"], "unknown sequence '%Z'"), (["-T", "a/#/b"], "# comes last")):
            r = run("iot-sub", broker.url, "-t", "x", *args)
            assert r.returncode == 2 and why.encode() in r.stderr, (args, r.stderr)
    finally:
        broker.stop()


def test_iot_pub_stdin_as_one_message_and_repeat(broker):
    """-s publishes all of stdin as one message, byte for byte (mosquitto_pub -s); --repeat N
    publishes the one message N times, --repeat-delay apart."""
    sub = mosquitto_sub(broker, "s", 4)
    data = bytes(range(256)) * 3 + b"\nlast line without newline"
    r = run("iot-pub", broker.url, "-t", "s/one", "-s", "-q", "1", input=data)
    assert r.returncode == 0, r.stderr
    r = run("iot-pub", broker.url, "-t", "s/rep", "-m", "again", "--repeat", "3", "--repeat-delay", "20ms", "-q", "1")
    assert r.returncode == 0, r.stderr
    out, _ = sub.communicate(timeout=30)
    assert out.decode().splitlines() == ["PAYLOAD=" + data.hex()] + ["PAYLOAD=" + b"again".hex()] * 3
    r = run("iot-pub", broker.url, "-t", "x", "--repeat", "2")
    assert r.returncode == 2 and b"--repeat and --repeat-delay repeat one message" in r.stderr


@pytest.mark.parametrize("v", ["311", "5"])
def test_unsubscribe_ends_what_a_persistent_session_kept(broker, v):
    """-U FILTER (mosquitto_sub -U): a session made with -c -i stops getting a filter's messages."""
    pub = ["mosquitto_pub", "-p", str(broker.port), "-q", "1"]
    sess = ["-c", "-i", f"unsub-{v}", "-V", v, "-q", "1"]
    r = run("iot-sub", "-L", f"{broker.url}/u/%23", "-t", "w/#", "-E", *sess)  # -L: mosquitto's URL form
    assert r.returncode == 0, r.stderr
    r = run("iot-sub", broker.url, "-U", "u/#", *sess, "--verbose")  # alone: exits once acknowledged
    assert r.returncode == 0 and b"unsubscribed from u/#" in r.stderr, r.stderr
    assert b"no subscription" not in r.stderr  # -L's topic made one
    subprocess.run(pub + ["-t", "u/x", "-m", "not for us"], check=True)
    subprocess.run(pub + ["-t", "w/x", "-m", "still ours"], check=True)
    r = run("iot-sub", broker.url, "-t", "w/#", *sess, "-C", "1", "-W", "10s", "-v")
    assert r.returncode == 0, r.stderr
    assert r.stdout == b"w/x still ours\n"
    # a filter with no subscription: MQTT 5 says so (0x11), which is what was wanted
    r = run("iot-sub", broker.url, "-U", "never/#", *sess, "--verbose")
    assert r.returncode == 0, r.stderr
    if v == "5":
        assert b"there was no subscription to 'never/#'" in r.stderr
    r = run("iot-sub", broker.url, "-U", "a/#/b", *sess)
    assert r.returncode == 2 and b"-U: " in r.stderr


@pytest.mark.parametrize("qos", ["1", "2"])
def test_debug_trace_reads_as_mosquitto_pubs(broker, qos):
    """-d prints the packets as mosquitto_pub -d does (on stderr, where m2mkit's diagnostics go)."""
    args = ["-t", "dbg/x", "-m", "hello", "-q", qos, "-d", "-i", "tracer"]
    mosq = subprocess.run(["mosquitto_pub", "-p", str(broker.port), *args], capture_output=True, check=True)
    r = run("iot-pub", broker.url, *args)
    assert r.returncode == 0, r.stderr
    ours = [line.removeprefix("iot-pub: ") for line in r.stderr.decode().splitlines()]
    assert ours == mosq.stdout.decode().splitlines()
    assert f"Client tracer sending PUBLISH (d0, q{qos}, r0, m1, 'dbg/x', ... (5 bytes))" in ours
    sub = run("iot-sub", broker.url, "-t", "dbg/#", "-q", "1", "-E", "-d", "-i", "tracer")
    assert "Client tracer sending SUBSCRIBE (Mid: 1, Topic: dbg/#, QoS: 1, Options: 0x00)" in sub.stderr.decode()
