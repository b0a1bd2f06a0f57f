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
