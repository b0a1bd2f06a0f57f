"""Sparkplug B payloads (#19): iot-sub decodes spBv1.0/ messages into json records, iot-pub encodes
them back. The independent peer is python3-protobuf with the same schema (compiled here by protoc):
what it writes iot-sub reads, what iot-pub writes it reads, and both write the same bytes."""
import base64
import importlib
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import records, run, stats_of
from mqtt_broker import Broker
from test_mqtt import mosquitto_sub, payloads_of, subscriber

PROTO = Path(__file__).resolve().parents[2] / "libcore" / "sparkplug" / "sparkplug_b.proto"


@pytest.fixture(scope="module")
def spb(tmp_path_factory):
    d = tmp_path_factory.mktemp("proto")
    subprocess.run(["protoc", f"-I{PROTO.parent}", f"--python_out={d}", PROTO.name], check=True)
    sys.path.insert(0, str(d))
    try:
        return importlib.import_module("sparkplug_b_pb2")
    finally:
        sys.path.remove(str(d))


@pytest.fixture
def broker(tmp_path):
    b = Broker(tmp_path).start()
    yield b
    b.stop()


def tahu_payload(spb):
    """A payload as a Sparkplug edge node writes it: every scalar datatype, negatives in their
    width's two's complement, a null metric and an alias-only metric."""
    p = spb.Payload(timestamp=1700000000000, seq=12)
    types = {"Int8": 1, "Int16": 2, "Int32": 3, "Int64": 4, "UInt8": 5, "UInt16": 6, "UInt32": 7, "UInt64": 8,
             "Float": 9, "Double": 10, "Boolean": 11, "String": 12, "DateTime": 13, "Bytes": 17}
    p.metrics.add(name="i8", datatype=types["Int8"], int_value=(-5) & 0xFF)
    p.metrics.add(name="i16", datatype=types["Int16"], int_value=(-300) & 0xFFFF)
    p.metrics.add(name="i32", datatype=types["Int32"], int_value=(-70000) & 0xFFFFFFFF)
    p.metrics.add(name="i64", datatype=types["Int64"], long_value=(-1) & 0xFFFFFFFFFFFFFFFF)
    p.metrics.add(name="u32", datatype=types["UInt32"], int_value=4000000000)
    p.metrics.add(name="u64", datatype=types["UInt64"], long_value=2**63 + 5)
    p.metrics.add(name="f", datatype=types["Float"], float_value=21.5)
    p.metrics.add(name="d", datatype=types["Double"], double_value=0.1)
    p.metrics.add(name="b", datatype=types["Boolean"], boolean_value=True)
    p.metrics.add(name="s", alias=4, timestamp=1700000000001, datatype=types["String"], string_value="héllo")
    p.metrics.add(name="when", datatype=types["DateTime"], long_value=1700000000123)
    p.metrics.add(name="raw", datatype=types["Bytes"], bytes_value=b"\x00\x01\xff")
    p.metrics.add(name="gone", datatype=types["Double"], is_null=True)
    p.metrics.add(alias=4, datatype=types["String"], string_value="by alias")
    return p


EXPECTED = {"timestamp": 1700000000000, "seq": 12, "metrics": [
    {"name": "i8", "datatype": "Int8", "value": -5},
    {"name": "i16", "datatype": "Int16", "value": -300},
    {"name": "i32", "datatype": "Int32", "value": -70000},
    {"name": "i64", "datatype": "Int64", "value": -1},
    {"name": "u32", "datatype": "UInt32", "value": 4000000000},
    {"name": "u64", "datatype": "UInt64", "value": 2**63 + 5},
    {"name": "f", "datatype": "Float", "value": 21.5},
    {"name": "d", "datatype": "Double", "value": 0.1},
    {"name": "b", "datatype": "Boolean", "value": True},
    {"name": "s", "alias": 4, "timestamp": 1700000000001, "datatype": "String", "value": "héllo"},
    {"name": "when", "datatype": "DateTime", "value": 1700000000123},
    {"name": "raw", "datatype": "Bytes", "value": base64.b64encode(b"\x00\x01\xff").decode()},
    {"name": "gone", "datatype": "Double", "is_null": True},
    {"alias": 4, "datatype": "String", "value": "by alias"}]}


def test_iot_sub_decodes_what_a_protobuf_peer_wrote(spb, broker, procs, tmp_path):
    body = tahu_payload(spb).SerializeToString()
    (tmp_path / "p.bin").write_bytes(body)
    sub = subscriber(procs, broker.url, "-t", "spBv1.0/#", "-C", "2")
    subprocess.run(["mosquitto_pub", "-p", str(broker.port), "-t", "spBv1.0/plant/DDATA/edge1/pump1", "-f",
                    str(tmp_path / "p.bin")], check=True)
    # spBv1.0/STATE is JSON in Sparkplug 3.0: not decoded
    subprocess.run(["mosquitto_pub", "-p", str(broker.port), "-t", "spBv1.0/STATE/scada1", "-m",
                    '{"online":true,"timestamp":1}'], check=True)
    sub.finish()
    recs = records(sub.out)
    assert recs[0]["json"] == EXPECTED
    assert recs[1]["json"] == {"online": True, "timestamp": 1}


def test_iot_pub_encodes_what_the_peer_reads_byte_for_byte(spb, broker):
    mosq = mosquitto_sub(broker, "spBv1.0", 1)
    line = '{"topic":"spBv1.0/plant/DDATA/edge1/pump1","json":%s}\n' % __import__("json").dumps(EXPECTED)
    r = run("iot-pub", broker.url, "-q", "1", input=line)
    assert r.returncode == 0, r.stderr.decode()
    out, _ = mosq.communicate(timeout=30)
    [got] = payloads_of(out)
    assert got == tahu_payload(spb).SerializeToString()  # the same bytes the peer writes
    p = spb.Payload()
    p.ParseFromString(got)
    assert p.metrics[0].int_value == 251 and p.metrics[12].is_null


def test_sub_then_pub_gives_back_the_same_bytes(spb, broker, procs, tmp_path):
    body = tahu_payload(spb).SerializeToString()
    (tmp_path / "p.bin").write_bytes(body)
    sub = subscriber(procs, broker.url, "-t", "spBv1.0/plant/DDATA/#", "-C", "1")
    subprocess.run(["mosquitto_pub", "-p", str(broker.port), "-t", "spBv1.0/plant/DDATA/edge1/pump1", "-f",
                    str(tmp_path / "p.bin")], check=True)
    sub.finish()
    mosq = mosquitto_sub(broker, "spBv1.0/copy", 1)
    r = run("iot-pub", broker.url, "-t", "spBv1.0/copy/DDATA/edge1/pump1", input=sub.out)
    assert r.returncode == 0, r.stderr.decode()
    out, _ = mosq.communicate(timeout=30)
    assert payloads_of(out) == [body]


def test_a_malformed_payload_is_kept_named_and_counted(broker, procs):
    sub = subscriber(procs, broker.url, "-t", "spBv1.0/#", "-C", "1", "--stats")
    subprocess.run(["mosquitto_pub", "-p", str(broker.port), "-t", "spBv1.0/g/NDATA/n", "-m", "not protobuf \x7f"],
                   check=True)
    sub.finish()
    [rec] = records(sub.out)
    assert base64.b64decode(rec["b64"]) == b"not protobuf \x7f"
    assert rec["err"].startswith("not a Sparkplug B payload (14 bytes")
    err = sub.err.decode()
    assert "message on spBv1.0/g/NDATA/n: not a Sparkplug B payload" in err
    assert stats_of(sub.err)["bad_frames"] == 1


def test_decode_none_keeps_the_bytes(spb, broker, procs, tmp_path):
    body = tahu_payload(spb).SerializeToString()
    (tmp_path / "p.bin").write_bytes(body)
    sub = subscriber(procs, broker.url, "-t", "spBv1.0/#", "-C", "1", "--decode", "none")
    subprocess.run(["mosquitto_pub", "-p", str(broker.port), "-t", "spBv1.0/g/DDATA/n/d", "-f", str(tmp_path / "p.bin")],
                   check=True)
    sub.finish()
    assert base64.b64decode(records(sub.out)[0]["b64"]) == body


def test_a_record_that_does_not_encode_names_its_line(broker):
    lines = ('{"topic":"spBv1.0/g/DDATA/n/d","json":{"metrics":[{"name":"ok","value":1}]}}\n'
             '{"topic":"spBv1.0/g/DDATA/n/d","json":{"metrics":[{"name":"x","datatype":"Int8","value":300}]}}\n')
    r = run("iot-pub", broker.url, "--stats", input=lines)
    assert r.returncode == 0, r.stderr.decode()
    assert "line 2: sparkplug: metrics[0].value: 300 does not fit Int8" in r.stderr.decode()
    s = stats_of(r.stderr)
    assert (s["published"], s["bad_records"]) == (1, 1)
    r = run("iot-pub", broker.url, "--strict", input=lines)
    assert r.returncode == 3


# ---- the bridge as a Sparkplug B edge node (bridge --sparkplug) ----

DT = {1: "Int8", 2: "Int16", 3: "Int32", 4: "Int64", 5: "UInt8", 6: "UInt16", 7: "UInt32", 8: "UInt64",
      9: "Float", 10: "Double", 11: "Boolean", 12: "String"}


def metric_value(m):
    """A metric's value as python reads it from the protobuf, by its datatype."""
    if m.is_null:
        return None
    t = DT[m.datatype]
    if t == "Int16":
        return m.int_value - 0x10000 if m.int_value >= 0x8000 else m.int_value
    if t in ("UInt16", "UInt32", "Int32"):
        return m.int_value
    if t in ("Int64", "UInt64"):
        return m.long_value
    if t == "Float":
        return m.float_value
    if t == "Double":
        return m.double_value
    if t == "Boolean":
        return m.boolean_value
    return m.string_value


def edge_messages(spb, out):
    """(verb, device, payload) of each message iot-sub printed (raw bytes, as b64) from the edge
    node: not the commands the test sent it."""
    got = []
    for x in records(out[:out.rfind(b"\n") + 1]):
        parts = x["topic"].split("/")
        if parts[2].endswith("CMD"):
            continue
        got.append((parts[2], parts[4] if len(parts) > 4 else None,
                    spb.Payload.FromString(base64.b64decode(x["b64"]))))
    return got


def count_verb(spb, verb, n=1, device=None):
    return lambda out: sum(1 for v, d, _ in edge_messages(spb, out) if v == verb and (device is None or d == device)) >= n


def metrics_of(p):
    return {m.name: (DT[m.datatype], metric_value(m)) for m in p.metrics}


def edge_map(tmp_path):
    import os
    text = (Path(__file__).resolve().parents[2] / "fixtures" / "devices" / "meter-map.toml").read_text()
    (tmp_path / "map.toml").write_text(text.replace('poll = "1s"', 'poll = "200ms"'))
    return str(tmp_path / "map.toml")


def test_bridge_is_a_sparkplug_edge_node_births_data_commands_and_its_will(spb, broker, procs, tmp_path):
    """NBIRTH (bdSeq, Rebirth) and DBIRTH (the map's values, typed) as a protobuf peer reads them;
    DCMD writes by metric name and the new value comes back in a DDATA; NCMD Rebirth gives the
    births again; seq runs on from NBIRTH's 0 without a gap; killed, the broker sends its NDEATH
    will with the bdSeq of its NBIRTH."""
    from modbus_device import Meter
    meter = Meter(tmp_path)
    sub = subscriber(procs, broker.url, "-t", "spBv1.0/#", "-q", "1", "--decode", "none", "--payload", "b64")
    bridge = procs("bridge", meter.uri, broker.url, "--framing", "modbus-rtu", "--map", edge_map(tmp_path),
                   "--sparkplug", "plant/gw1", "--reply-timeout", "300ms", "--verbose")
    try:
        sub.read_until(count_verb(spb, "DBIRTH"))
        (v0, _, nbirth), (v1, dev, dbirth) = edge_messages(spb, sub.out)[:2]
        assert (v0, v1, dev) == ("NBIRTH", "DBIRTH", "meter")
        assert nbirth.seq == 0 and dbirth.seq == 1
        assert metrics_of(nbirth) == {"bdSeq": ("Int64", 0), "Node Control/Rebirth": ("Boolean", False)}
        assert metrics_of(dbirth) == {
            "voltage": ("Float", 230.5), "energy_kwh": ("Double", 123.456), "offset_test": ("Int16", -2),
            "temperature": ("Float", 21.5), "humidity": ("Double", 45.5), "relay": ("Boolean", True),
            "setpoint": ("UInt16", 500)}
        assert all(m.timestamp > 0 for m in dbirth.metrics) and dbirth.timestamp > 0

        dcmd = spb.Payload(timestamp=1)
        dcmd.metrics.add(name="setpoint", datatype=6, int_value=321)
        dcmd.metrics.add(name="relay", datatype=11, boolean_value=False)
        subprocess.run(["mosquitto_pub", "-p", str(broker.port), "-t", "spBv1.0/plant/DCMD/gw1/meter", "-s"],
                       input=dcmd.SerializeToString(), check=True)
        def ddata(out):
            got = {}
            for v, _, p in edge_messages(spb, out):
                if v == "DDATA":
                    got.update(metrics_of(p))
            return got
        sub.read_until(lambda out: ddata(out).get("setpoint") == ("UInt16", 321) and "relay" in ddata(out))
        assert ddata(sub.out) == {"setpoint": ("UInt16", 321), "relay": ("Boolean", False)}  # only what changed

        bad = spb.Payload(timestamp=1)
        bad.metrics.add(name="stepoint", datatype=6, int_value=1)
        subprocess.run(["mosquitto_pub", "-p", str(broker.port), "-t", "spBv1.0/plant/DCMD/gw1/meter", "-s"],
                       input=bad.SerializeToString(), check=True)
        bridge.wait_stderr("no value 'stepoint' in the map (did you mean 'setpoint'?)")

        rebirth = spb.Payload(timestamp=1)
        rebirth.metrics.add(name="Node Control/Rebirth", datatype=11, boolean_value=True)
        subprocess.run(["mosquitto_pub", "-p", str(broker.port), "-t", "spBv1.0/plant/NCMD/gw1", "-s"],
                       input=rebirth.SerializeToString(), check=True)
        sub.read_until(count_verb(spb, "DBIRTH", 2))
        births = [(v, p) for v, _, p in edge_messages(spb, sub.out) if v.endswith("BIRTH")]
        assert [v for v, _ in births] == ["NBIRTH", "DBIRTH", "NBIRTH", "DBIRTH"]
        assert births[2][1].seq == 0 and metrics_of(births[2][1])["bdSeq"] == ("Int64", 0)
        assert metrics_of(births[3][1])["setpoint"] == ("UInt16", 321)

        bridge.p.kill()  # gone without a word: the broker publishes the will
        bridge.p.wait()
        sub.read_until(count_verb(spb, "NDEATH"))
        msgs = edge_messages(spb, sub.out)
        assert msgs[-1][0] == "NDEATH" and metrics_of(msgs[-1][2]) == {"bdSeq": ("Int64", 0)}
        seq = None
        for v, _, p in msgs[:-1]:  # 0 at each NBIRTH, then one more per message
            assert p.seq == (0 if v == "NBIRTH" else (seq + 1) % 256), (v, p.seq, seq)
            seq = p.seq
    finally:
        meter.stop()


def test_edge_node_says_ddeath_for_a_silent_device_and_ndeath_at_a_normal_exit(spb, broker, procs, tmp_path):
    from modbus_device import Meter
    meter = Meter(tmp_path)
    sub = subscriber(procs, broker.url, "-t", "spBv1.0/#", "-q", "1", "--decode", "none", "--payload", "b64")
    bridge = procs("bridge", meter.uri, broker.url, "--framing", "modbus-rtu", "--map", edge_map(tmp_path),
                   "--sparkplug", "plant/gw2", "--reply-timeout", "300ms", "--stats")
    try:
        sub.read_until(count_verb(spb, "DBIRTH"))
        meter.stop()  # the device (and its pty) goes away
        sub.read_until(count_verb(spb, "DDEATH"))
        bridge.p.send_signal(__import__("signal").SIGINT)
        code, _, err = bridge.finish()
        assert code == 130
        sub.read_until(count_verb(spb, "NDEATH"))
        msgs = edge_messages(spb, sub.out)
        assert [v for v, d, _ in msgs][-2:] == ["DDEATH", "NDEATH"] and msgs[-2][1] == "meter"
        assert metrics_of(msgs[-1][2]) == {"bdSeq": ("Int64", 0)}
        st = stats_of(err)
        assert st["published"] >= 3 and "sparkplug_unsent" not in st.get("drops", {})
    finally:
        meter.stop()
