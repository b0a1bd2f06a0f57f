"""Modbus RTU and TCP against a real peer (pymodbus), cross-checked with mbpoll; NMEA from a
fixture of real-world sentence types."""
import json
import os
import re
import subprocess

import pytest
from conftest import records, run, stats_of
from modbus_device import Meter

FIXTURES = os.path.join(os.path.dirname(__file__), "../../fixtures")


@pytest.fixture(params=["rtu", "tcp"])
def meter(request, tmp_path):
    m = Meter(tmp_path, tcp=request.param == "tcp")
    m.framing = "modbus-" + request.param
    yield m
    m.stop()


def ask(meter, *requests, extra=(), code=0):
    """m2m-send one request per line with --reply; returns the replies' modbus views."""
    lines = "".join(json.dumps({"modbus": q}) + "\n" for q in requests)
    r = run("m2m-send", meter.uri, "--framing", meter.framing, "--reply", "--reply-timeout", "2s", "--stats",
            *extra, input=lines)
    assert r.returncode == code, r.stderr.decode()
    ask.stderr = r.stderr.decode()
    recs = records(r.stdout)
    assert len(recs) == len(requests), r.stderr.decode()
    views = [{k: v for k, v in x["modbus"].items() if k != "tid"} for x in recs]
    return views, recs, stats_of(r.stderr)


def test_reads_match_mbpoll(meter):
    views, recs, st = ask(meter, {"unit": 1, "fc": 3, "addr": 0, "count": 8}, {"fc": 4, "addr": 0, "count": 3},
                          {"fc": 1, "addr": 0, "count": 12}, {"fc": 2, "addr": 0, "count": 8})
    hr, ir, co, di = views
    assert hr["kind"] == "response" and hr["addr"] == 0
    assert hr["regs"] == [v & 0xFFFF for _, v in sorted(meter.mbpoll("-t", "4", "-r", "0", "-c", "8").items())]
    assert hr["regs"][:2] == [1234, 65534]
    assert ir["regs"] == [v & 0xFFFF for _, v in sorted(meter.mbpoll("-t", "3", "-r", "0", "-c", "3").items())]
    assert co["bits"] == [v for _, v in sorted(meter.mbpoll("-t", "0", "-r", "0", "-c", "12").items())]
    assert co["bits"] == [1, 0, 1, 1, 0, 0, 0, 1, 1, 1, 0, 0]
    assert di["bits"] == [v for _, v in sorted(meter.mbpoll("-t", "1", "-r", "0", "-c", "8").items())]
    assert st["replies"] == 4 and st["reply_timeouts"] == 0 and st["bad_frames"] == 0
    if meter.framing == "modbus-tcp":
        assert [x["modbus"]["tid"] for x in recs] == [1, 2, 3, 4]
    else:  # the payload is the ADU without the CRC
        assert recs[0]["hex"].startswith("010310" + "04d2fffe")


def test_writes_seen_by_mbpoll_and_back(meter):
    views, _, _ = ask(meter, {"fc": 16, "addr": 8, "regs": [11, 22, -3]}, {"fc": 6, "addr": 12, "value": 4242},
                      {"fc": 15, "addr": 2, "bits": [0, 1, 1]}, {"fc": 5, "addr": 15, "value": True})
    assert views[0] == {"unit": 1, "fc": 16, "kind": "response", "addr": 8, "count": 3}
    assert views[1]["value"] == 4242 and views[3]["value"] is True
    got = meter.mbpoll("-t", "4", "-r", "8", "-c", "5")
    assert [got[a] & 0xFFFF for a in range(8, 13)] == [11, 22, 65533, 0, 4242]
    bits = meter.mbpoll("-t", "0", "-r", "0", "-c", "16")
    assert [bits[a] for a in (2, 3, 4, 15)] == [0, 1, 1, 1]
    # and the other way: mbpoll writes, m2m-send reads
    meter.mbpoll("-t", "4", "-r", "14", write=[7, 8, 9])
    views, _, _ = ask(meter, {"fc": 3, "addr": 14, "count": 3})
    assert views[0]["regs"] == [7, 8, 9]


def test_exception_responses_are_records_counted_and_exit_5(meter):
    """The device answered, but wrongly: the exception is printed as a record, named on stderr by
    the request's line, the next request still goes, and the run exits 5 (mbpoll exits 1)."""
    views, recs, st = ask(meter, {"fc": 3, "addr": 100, "count": 2}, {"fc": 3, "addr": 0, "count": 1}, code=5)
    assert views[0] == {"unit": 1, "fc": 3, "kind": "exception", "exception": 2, "error": "illegal data address"}
    assert views[1]["regs"] == [1234]
    assert st["replies"] == 2 and st["wrong_replies"] == 1
    assert "line 1: unit 1 answered fc 3 with Modbus exception 2 (illegal data address)" in ask.stderr
    assert "1 of 2 request(s) failed" in ask.stderr


def mbpoll_numbers(meter, *opts):
    """mbpoll's reading of one value as a number (it prints floats too: '[8]: \t-12.25')."""
    where = ["-m", "tcp", "-p", str(meter.port), "127.0.0.1"] if meter.port else \
        ["-m", "rtu", "-b", "9600", "-P", "none", meter.path]
    r = subprocess.run(["mbpoll", "-1", "-0", "-a", "1", "-o", "2", *opts, *where], capture_output=True, timeout=30)
    assert r.returncode == 0, r.stdout.decode()
    return [float(m[1]) for m in re.finditer(r"^\[\d+\]:\s+(\S+)", r.stdout.decode(), re.M)]


def test_typed_values_match_mbpoll(meter):
    """Typed writes read back by mbpoll (-t 4:float and 4:int, with -B: ABCD; without: CDAB) and
    typed reads of what is there, checked against mbpoll; scale gives the decimals people read."""
    w = [{"fc": 16, "addr": 8, "type": "float32", "values": [-12.25]},
         {"fc": 16, "addr": 10, "type": "float32", "order": "CDAB", "value": 230.5},
         {"fc": 16, "addr": 12, "type": "int32", "values": [-123456]},
         {"fc": 16, "addr": 14, "type": "uint32", "order": "CDAB", "values": [70000]},
         {"fc": 6, "addr": 16, "type": "int16", "scale": 0.1, "value": -21.5}]
    ask(meter, *w)
    assert mbpoll_numbers(meter, "-t", "4:float", "-B", "-r", "8") == [-12.25]
    assert mbpoll_numbers(meter, "-t", "4:float", "-r", "10") == [230.5]
    assert mbpoll_numbers(meter, "-t", "4:int", "-B", "-r", "12") == [-123456]
    assert mbpoll_numbers(meter, "-t", "4:int", "-r", "14") == [70000]
    assert mbpoll_numbers(meter, "-t", "4", "-r", "16") == [65536 - 215]  # mbpoll shows registers unsigned
    reads = [{"fc": 3, "addr": 8, "type": "float32"}, {"fc": 3, "addr": 10, "type": "float32", "order": "CDAB"},
             {"fc": 3, "addr": 12, "type": "int32"}, {"fc": 3, "addr": 14, "type": "uint32", "order": "CDAB"},
             {"fc": 3, "addr": 16, "type": "int16", "scale": 0.1}, {"fc": 3, "addr": 4, "type": "uint32", "scale": 0.001},
             {"fc": 4, "addr": 0, "type": "float32"}, {"fc": 3, "addr": 0, "count": 2, "type": "int16"}]
    views, _, _ = ask(meter, *reads)
    assert [v["values"] for v in views] == [[-12.25], [230.5], [-123456], [70000], [-21.5], [123.456], [21.5],
                                            [1234, -2]]
    assert views[6]["values"] == mbpoll_numbers(meter, "-t", "3:float", "-B", "-r", "0")
    assert views[5]["values"] == [mbpoll_numbers(meter, "-t", "4:int", "-B", "-r", "4")[0] / 1000]
    # the request's own fields come back in its reply, and "expect" can name the values
    q = {"modbus": {"fc": 3, "addr": 2, "type": "float32"}, "name": "volts", "site": "north",
         "expect": {"values": [230.5]}}
    r = run("m2m-send", meter.uri, "--framing", meter.framing, "--reply", input=json.dumps(q) + "\n")
    assert r.returncode == 0, r.stderr.decode()
    rec = records(r.stdout)[0]
    assert (rec["name"], rec["site"], rec["modbus"]["values"]) == ("volts", "north", [230.5])
    assert "expect" not in rec


def test_64_bit_and_string_values_match_pymodbus(meter):
    """Each order of the 64-bit types and a string, both ways: registers from pymodbus's own
    encoder read as typed values, and typed writes decoded by pymodbus's decoder."""
    from pymodbus.constants import Endian
    from pymodbus.payload import BinaryPayloadBuilder, BinaryPayloadDecoder
    orders = {"ABCD": (Endian.Big, Endian.Big), "CDAB": (Endian.Big, Endian.Little),
              "BADC": (Endian.Little, Endian.Big), "DCBA": (Endian.Little, Endian.Little)}
    cases = [("int64", -1234567890123, "add_64bit_int", "decode_64bit_int"),
             ("uint64", 18446744073709551000, "add_64bit_uint", "decode_64bit_uint"),
             ("float64", 3.6, "add_64bit_float", "decode_64bit_float")]
    for order, (byteorder, wordorder) in orders.items():
        for ty, value, add, decode in cases:
            b = BinaryPayloadBuilder(byteorder=byteorder, wordorder=wordorder)
            getattr(b, add)(value)
            typed = {"type": ty, "order": order}
            views, _, _ = ask(meter, {"fc": 16, "addr": 8, "regs": b.to_registers()}, {"fc": 3, "addr": 8, **typed},
                              {"fc": 16, "addr": 12, **typed, "values": [value]}, {"fc": 3, "addr": 12, "count": 4})
            assert views[1]["values"] == [value], (order, ty)
            d = BinaryPayloadDecoder.fromRegisters(views[3]["regs"], byteorder=byteorder, wordorder=wordorder)
            assert getattr(d, decode)() == value, (order, ty)
    b = BinaryPayloadBuilder(byteorder=Endian.Big)
    b.add_string("pump-07")
    views, _, _ = ask(meter, {"fc": 16, "addr": 8, "regs": b.to_registers()},
                      {"fc": 3, "addr": 8, "type": "string:8"}, {"fc": 3, "addr": 8, "type": "string:8", "order": "BADC"},
                      {"fc": 16, "addr": 12, "type": "string:6", "value": "MX-1"}, {"fc": 3, "addr": 12, "count": 3})
    assert views[1]["values"] == ["pump-07"] and views[2]["values"] == ["uppm0-"]  # bytes swapped in each register; ends at the NUL
    d = BinaryPayloadDecoder.fromRegisters(views[4]["regs"], byteorder=Endian.Big)
    assert d.decode_string(6) == b"MX-1\0\0"


def test_a_typed_value_that_does_not_fit_names_the_line(meter):
    r = run("m2m-send", meter.uri, "--framing", meter.framing, "--reply",
            input='{"modbus":{"fc":16,"addr":8,"type":"int16","values":[1,40000]}}\n'
                  '{"modbus":{"fc":3,"addr":0,"type":"float16"}}\n'
                  '{"modbus":{"fc":3,"addr":0,"count":40,"type":"float64"}}\n'
                  '{"modbus":{"fc":6,"addr":8,"type":"float32","value":1.5}}\n')
    err = r.stderr.decode()
    assert r.returncode == 0, err
    assert "line 1: modbus: value 40000 does not fit int16" in err
    assert "line 2: modbus: type 'float16' is not int16" in err
    assert "line 3: modbus: 40 float64 values take 160 registers; a read takes at most 125" in err
    assert "line 4: modbus: fc 6 writes one register; float32 takes 2 (use fc 16)" in err
    assert records(r.stdout) == []


def test_bad_modbus_object_names_the_line(meter):
    r = run("m2m-send", meter.uri, "--framing", meter.framing, "--reply", "--stats",
            input='{"modbus":{"fc":3,"addr":0}}\n{"modbus":{"fc":3,"addr":0,"count":1}}\n')
    assert r.returncode == 0
    assert 'line 1: modbus: "count" is missing' in r.stderr.decode()
    assert stats_of(r.stderr)["bad_records"] == 1 and len(records(r.stdout)) == 1


def test_rtu_crc_errors_become_error_records(tmp_path, procs):
    """A device sending a frame with a broken CRC, seen by m2m-listen on a pty: one record with
    the error, counted as a bad frame; the good frame after it is decoded."""
    dev = tmp_path / "dev"
    listen = procs("m2m-listen", f"pty:{dev}", "--framing", "modbus-rtu", "--stats", "-C", "2")
    listen.wait_stderr("pty")
    good = bytes.fromhex("01030404d2fffe")
    crc = 0xFFFF
    for b in good:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    frame = good + bytes([crc & 0xFF, crc >> 8])
    with open(dev, "wb", buffering=0) as d:
        d.write(frame[:-1] + bytes([frame[-1] ^ 0xFF]))
        listen.read_until(lambda out: b"CRC mismatch" in out)  # the silence after it ends the frame
        d.write(frame)
        code, out, err = listen.finish()
    assert code == 0, err.decode()
    recs = records(out)
    assert recs[0]["err"].startswith("CRC mismatch") and "modbus" not in recs[0]
    assert recs[1]["modbus"]["regs"] == [1234, 65534] and "err" not in recs[1]
    assert stats_of(err)["bad_frames"] == 1


def test_nmea_fixture():
    r = run("m2m-listen", f"file:{FIXTURES}/nmea/gps-sample.nmea", "--framing", "nmea", "--stats")
    assert r.returncode == 0, r.stderr.decode()
    recs = records(r.stdout)
    types = [x.get("nmea", {}).get("type") for x in recs]
    assert types == ["GGA", "GSA", "GSV", "GSV", "RMC", "VTG", "GGA", "RMC", None, None, "VTG"]
    gga = recs[0]["nmea"]
    assert (gga["talker"], gga["lat"], gga["lon"], gga["sats"], gga["alt"]) == ("GP", 48.1173, 11.5166667, 8, 545.4)
    assert recs[6]["nmea"]["lon"] == pytest.approx(-121.3143268, abs=1e-7)
    assert recs[4]["nmea"]["speed_kn"] == 22.4 and recs[4]["nmea"]["status"] == "A"
    assert len(recs[2]["nmea"]["sats"]) == 4 and recs[2]["nmea"]["in_view"] == 8
    assert recs[8]["err"] == "checksum mismatch: sentence says 48, computed 47"
    assert recs[9]["err"] == "no checksum (*hh)"
    st = stats_of(r.stderr)
    assert st["bad_frames"] == 2 and st["drops"] == {"garbage": 1}
    assert st["dropped_bytes"]["garbage"] == len("noise between sentences")


def test_an_expectation_on_a_modbus_reply(meter):
    """"expect" on a Modbus request names the fields the reply must have: met, exit 0; not met,
    exit 5 naming the request (line and name), what was expected and what came back."""
    good = {"modbus": {"fc": 3, "addr": 0, "count": 2}, "name": "id regs", "expect": {"regs": [1234, 65534]}}
    bad = {"modbus": {"fc": 3, "addr": 6, "count": 1}, "name": "setpoint", "expect": {"regs": [600]}}
    r = run("m2m-send", meter.uri, "--framing", meter.framing, "--reply", "--reply-timeout", "2s",
            input=json.dumps(good) + "\n")
    assert r.returncode == 0, r.stderr.decode()
    assert records(r.stdout)[0]["name"] == "id regs" and records(r.stdout)[0]["reply_to"] == 1
    r = run("m2m-send", meter.uri, "--framing", meter.framing, "--reply", "--reply-timeout", "2s",
            input=json.dumps(good) + "\n" + json.dumps(bad) + "\n")
    assert r.returncode == 5, r.stderr.decode()
    assert "line 2 (setpoint): expected regs [600], got [500]" in r.stderr.decode()


def test_a_silent_unit_is_exit_124_naming_the_request(meter):
    """A unit that is not on the bus never answers: m2m-send --reply names the request and exits
    124 (it warned and exited 0); the request after it, to the unit that is there, still goes."""
    lines = json.dumps({"modbus": {"unit": 7, "fc": 3, "addr": 0, "count": 1}, "name": "pump 7"}) + "\n" + \
        json.dumps({"modbus": {"unit": 1, "fc": 3, "addr": 0, "count": 1}}) + "\n"
    r = run("m2m-send", meter.uri, "--framing", meter.framing, "--reply", "--reply-timeout", "500ms", "--stats",
            input=lines)
    assert r.returncode == 124, r.stderr.decode()
    assert "line 1 (pump 7): no reply within 500ms" in r.stderr.decode()
    recs = records(r.stdout)
    assert [(x["modbus"]["regs"], x["reply_to"]) for x in recs] == [([1234], 2)]


def test_scan_finds_the_units_that_answer():
    """m2m-send --scan: one read per unit id; a response or an exception means a device is there;
    records, or a table with --format human; no unit at all is exit 124."""
    from modbus_bus import Bus
    bus = Bus({1: {0: 5}, 2: {1: 7}})  # unit 2 has no register 0: it answers with an exception
    try:
        r = run("m2m-send", f"serial:{bus.path}", "--framing", "modbus-rtu", "--scan", "1-4", "--reply-timeout", "1s")
        assert r.returncode == 0, r.stderr.decode()
        got = [(x["unit"], x["answer"], x["modbus"]["kind"]) for x in records(r.stdout)]
        assert got == [(1, "response", "response"), (2, "exception 2 (illegal data address)", "exception")]
        assert "scan: 2 of 4 unit(s) answered: 1, 2" in r.stderr.decode()
        assert [u for u, *_ in bus.requests()] == [1, 2, 3, 4]  # each asked once
        r = run("m2m-send", f"serial:{bus.path}", "--framing", "modbus-rtu", "--scan", "2,3", "--format", "human",
                "--reply-timeout", "1s")
        assert r.stdout.decode().splitlines() == ["unit  answer", "   2  exception 2 (illegal data address)"]
        r = run("m2m-send", f"serial:{bus.path}", "--framing", "modbus-rtu", "--scan", "3-5", "--reply-timeout", "50ms")
        assert r.returncode == 124 and "no unit answered within 50ms" in r.stderr.decode()
        assert records(r.stdout) == []
    finally:
        bus.close()
