"""replay --serve-map: a simulated Modbus device from a register map, polled by mbpoll and by the
bridge, its values changed from stdin, and each fault kind seen by the bridge as the right error."""
import json
import signal
import subprocess

import pytest
from conftest import records
from mqtt_broker import Broker, free_port

MAP = """
[[device]]
name = "pump"
unit = 4
poll = "100ms"
[[device.value]]
name = "volts"
addr = 2
type = "float32"
value = 230.5
[[device.value]]
name = "temp"
addr = 5
type = "int16"
scale = 0.1
value = -21.5
[[device.value]]
name = "setpoint"
addr = 6
value = 500
[[device.value]]
name = "serial"
addr = 10
type = "string:8"
value = "P-0042"
[[device.value]]
name = "run"
table = "coil"
addr = 0
value = true
"""


def mbpoll(where, *opts, write=()):
    r = subprocess.run(["mbpoll", "-1", "-0", "-a", "4", "-o", "2", *opts, *where, *map(str, write)],
                       capture_output=True, timeout=30)
    assert r.returncode == 0, r.stdout.decode() + r.stderr.decode()
    return [line.split("\t")[-1] for line in r.stdout.decode().splitlines() if line.startswith("[")]


@pytest.mark.parametrize("kind", ["rtu", "tcp"])
def test_mbpoll_reads_and_writes_the_simulated_device(tmp_path, procs, kind):
    (tmp_path / "map.toml").write_text(MAP)
    if kind == "rtu":
        link, where = f"pty:{tmp_path}/dev", ["-m", "rtu", "-b", "9600", "-P", "none", f"{tmp_path}/dev"]
    else:
        port = free_port()
        link, where = f"tcp-listen://127.0.0.1:{port}", ["-m", "tcp", "-p", str(port), "127.0.0.1"]
    sim = procs("replay", "--serve-map", str(tmp_path / "map.toml"), link, "--framing", f"modbus-{kind}", "--verbose",
                stdin=subprocess.PIPE)
    sim.wait_stderr("serving the register map")
    assert mbpoll(where, "-t", "4:float", "-B", "-r", "2") == ["230.5"]
    assert mbpoll(where, "-t", "4", "-r", "5", "-c", "2") == ["65321 (-215)", "500"]
    assert mbpoll(where, "-t", "0", "-r", "0") == ["1"]
    mbpoll(where, "-t", "4", "-r", "6", write=[77])
    assert mbpoll(where, "-t", "4", "-r", "6") == ["77"]
    # a value set by name on stdin
    sim.p.stdin.write(b'{"set":{"volts":231.25}}\n')
    sim.p.stdin.flush()
    sim.wait_stderr("volts = 231.25")
    assert mbpoll(where, "-t", "4:float", "-B", "-r", "2") == ["231.25"]
    # an address the map does not have: exception 2, as a real device would say
    r = subprocess.run(["mbpoll", "-1", "-0", "-a", "4", "-o", "2", "-t", "4", "-r", "30", *where],
                       capture_output=True, timeout=30)
    assert r.returncode != 0 and "Illegal data address" in r.stdout.decode() + r.stderr.decode()
    sim.p.send_signal(signal.SIGINT)
    assert sim.finish()[0] == 130


def test_the_bridge_sees_each_fault_as_the_right_error(tmp_path, procs):
    """Values come through the bridge as the map says; then silence (offline, then online again),
    an exception (published as the value's error), a bad CRC (retried, then fine) and a late answer
    (no reply within --reply-timeout)."""
    (tmp_path / "map.toml").write_text(MAP)
    broker = Broker(tmp_path).start()
    try:
        sim = procs("replay", "--serve-map", str(tmp_path / "map.toml"), f"pty:{tmp_path}/dev", "--framing", "modbus-rtu",
                    "--verbose", "--stats", stdin=subprocess.PIPE)
        sim.wait_stderr("serving the register map")
        sub = procs("iot-sub", broker.url, "-t", "m2m/#", "-t", "st/devices/#", "-q", "1", "--payload", "text", "--verbose")
        sub.wait_stderr("subscribed to")
        bridge = procs("bridge", f"serial:{tmp_path}/dev", broker.url, "--framing", "modbus-rtu", "--map",
                       str(tmp_path / "map.toml"), "--reply-timeout", "200ms", "--retries", "1",
                       "--status-topic", "st", "--verbose")

        def values():
            out = sub.out[:sub.out.rfind(b"\n") + 1]
            return [(x["topic"], x["text"]) for x in records(out)]

        def wait_for(pred):
            sub.read_until(lambda _: pred(values()))

        def command(obj):
            sim.p.stdin.write(json.dumps(obj).encode() + b"\n")
            sim.p.stdin.flush()

        names = {"volts", "temp", "setpoint", "serial", "run"}  # coils are read first, the registers after
        wait_for(lambda v: {t.split("/")[-1] for t, _ in v if t.startswith("m2m/")} >= names)
        got = {t: json.loads(p)["value"] for t, p in values() if t.startswith("m2m/")}
        assert got == {"m2m/pump/volts": 230.5, "m2m/pump/temp": -21.5, "m2m/pump/setpoint": 500,
                       "m2m/pump/serial": "P-0042", "m2m/pump/run": 1}
        command({"set": {"temp": 19.9}})
        wait_for(lambda v: any(t == "m2m/pump/temp" and json.loads(p)["value"] == 19.9 for t, p in v))
        # silence: the unit stops answering; the bridge marks it offline, then online when it answers again
        command({"fault": "silence", "count": 6})
        wait_for(lambda v: ("st/devices/pump", "offline") in v)
        n = len(values())
        wait_for(lambda v: ("st/devices/pump", "online") in v[n:])
        bridge.wait_stderr("device 'pump' is available", count=2)  # all it said of the silence is read
        # an exception: the device answered, so it stays online; each value of the read says why
        command({"fault": "exception", "code": 4, "count": 1})
        wait_for(lambda v: any("server device failure" in p for _, p in v))
        # a bad CRC: the bridge sends the read again and it goes through
        command({"fault": "bad_crc", "count": 1})
        bridge.wait_stderr("CRC mismatch")
        # a late answer: no reply within --reply-timeout
        command({"fault": "delay", "delay": "400ms", "count": 2})
        bridge.wait_stderr("no reply within 200ms", count=bridge.err.count(b"no reply within 200ms") + 1)
        command({"fault": "nonsense"})
        sim.wait_stderr("fault 'nonsense' is not silence, exception, bad_crc, delay or none")
        bridge.p.send_signal(signal.SIGINT)
        assert bridge.finish()[0] == 130
        sim.p.send_signal(signal.SIGINT)
        code, _, err = sim.finish()
        assert code == 130
        st = json.loads(err.decode().split("stats: ")[-1])
        assert st["faulted"] >= 6 + 1 + 1 + 1 and st["bad_commands"] == 1, err.decode()
    finally:
        broker.stop()
