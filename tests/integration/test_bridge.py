"""bridge against a real mosquitto and real devices: a pymodbus meter on a pty pair, and a line
device on a pty the test holds. Faults: the broker restarted mid-stream, the bridge killed and
restarted with --persist, the device's pty closed and created again."""
import base64
import json
import os
import signal
import struct
import subprocess
import time

import pytest
from conftest import records, run, stats_of
from modbus_device import Meter
from mqtt_broker import Broker


@pytest.fixture
def broker(tmp_path):
    b = Broker(tmp_path, persistence=True).start()
    yield b
    b.stop()


def subscriber(procs, url, *args):
    p = procs("iot-sub", url, "--verbose", "--payload", "text", *args)
    p.wait_stderr("subscribed to")
    return p


def retained(broker, topic):
    """The retained message on `topic` now (iot-sub --retained-only)."""
    r = run("iot-sub", broker.url, "-t", topic, "--retained-only", "-C", "1", "-W", "5s", "--payload", "text")
    assert r.returncode == 0, r.stderr.decode()
    return records(r.stdout)[0]["text"]


def wait_for(cond, timeout=20, what="condition"):
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)  # polling a state another process changes; no event to wait on


class LineDevice:
    """A device on a pty the test holds open (so its buffer survives a bridge restart)."""

    def __init__(self):
        self.master, self.slave = os.openpty()
        import tty
        tty.setraw(self.slave)
        self.path = os.ttyname(self.slave)

    def write(self, lo, hi):
        data = "".join(f"{i}\n" for i in range(lo, hi)).encode()
        while data:
            n = os.write(self.master, data)
            data = data[n:]

    def unread(self):
        """Bytes the device sent that the other side has not read yet."""
        import fcntl
        import termios
        return struct.unpack("i", fcntl.ioctl(self.slave, termios.FIONREAD, b"\0\0\0\0"))[0]

    def close(self):
        os.close(self.master)
        os.close(self.slave)


@pytest.fixture
def device():
    d = LineDevice()
    yield d
    d.close()


def texts(sub):
    out = sub.out[:sub.out.rfind(b"\n") + 1]
    return [json.loads(x["text"])["text"] for x in records(out)]


def test_commands_reach_the_device_and_replies_come_back(tmp_path, broker, procs):
    meter = Meter(tmp_path)
    try:
        sub = subscriber(procs, broker.url, "-t", "gw/#", "-q", "1")
        bridge = procs("bridge", meter.uri, broker.url, "--framing", "modbus-rtu", "-t", "gw/up", "--command-topic",
                       "gw/cmd", "--reply-topic", "gw/reply", "--status-topic", "gw/status", "--verbose")
        bridge.wait_stderr("connected to")
        status = json.loads(retained(broker, "gw/status"))
        assert status["state"] == "online" and status["link"] == "up"
        pub = ["mosquitto_pub", "-p", str(broker.port), "-t", "gw/cmd", "-q", "1", "-m"]
        subprocess.run(pub + ['{"modbus":{"unit":1,"fc":6,"addr":7,"value":99}}'], check=True)
        subprocess.run(pub + ['{"modbus":{"fc":3,"addr":6,"count":2}}'], check=True)
        subprocess.run(pub + ['{"hex":"010300640001"}'], check=True)  # a payload (no CRC): out of range
        sub.read_until(lambda out: out.count(b'"topic":"gw/reply"') >= 3)
        replies = [json.loads(x["text"]) for x in records(sub.out) if x["topic"] == "gw/reply"]
        assert replies[0]["modbus"] == {"unit": 1, "fc": 6, "kind": "response", "addr": 7, "value": 99}
        assert replies[1]["modbus"]["regs"] == [500, 99]
        assert replies[2]["modbus"]["kind"] == "exception" and replies[2]["modbus"]["exception"] == 2
        # the bridge vanishes: the broker's last will marks it offline
        bridge.p.send_signal(signal.SIGKILL)
        bridge.p.wait()
        wait_for(lambda: json.loads(retained(broker, "gw/status"))["state"] == "offline", what="the will")
        # (only one master on the line at a time: mbpoll after the bridge has gone)
        assert meter.mbpoll("-t", "4", "-r", "7", "-c", "1") == {7: 99}  # the device really has it
    finally:
        meter.stop()


def test_polling_publishes_decoded_values_and_availability(tmp_path, broker, procs):
    meter = Meter(tmp_path)
    (tmp_path / "map.toml").write_text(open(os.path.join(os.path.dirname(__file__),
                                                         "../../fixtures/devices/meter-map.toml")).read()
                                       .replace('poll = "1s"', 'poll = "200ms"'))
    sub = subscriber(procs, broker.url, "-t", "m2m/#", "-q", "1")
    bridge = procs("bridge", meter.uri, broker.url, "--framing", "modbus-rtu", "--map", str(tmp_path / "map.toml"),
                   "--status-topic", "st", "--reply-timeout", "300ms", "--stats", "-t", "m2m/{site}/{device}/{name}",
                   "--set", "site=north")
    try:
        sub.read_until(lambda out: out.count(b'"topic":"m2m/north/meter/relay"') >= 2)
        values = {}
        for x in records(sub.out[:sub.out.rfind(b"\n") + 1]):
            v = json.loads(x["text"])
            assert v["device"] == "meter" and v["site"] == "north"  # --set: in the topic and the payload
            assert x["topic"] == f"m2m/north/meter/{v['name']}"
            values[v["name"]] = v["value"]
        assert values == {"voltage": 230.5, "energy_kwh": 123.456, "offset_test": -2, "temperature": 21.5,
                          "humidity": 45.5, "relay": 1, "setpoint": 500}
        assert retained(broker, "st/devices/meter") == "online"
        # the device goes away (its pty too): offline, link down, nothing published for its values
        meter.stop()
        wait_for(lambda: retained(broker, "st/devices/meter") == "offline", what="device offline")
        wait_for(lambda: json.loads(retained(broker, "st"))["link"] == "down", what="link down")
        # and comes back at the same path: the bridge reopens it, the device is online again
        meter = Meter(tmp_path, path=meter.path)
        wait_for(lambda: json.loads(retained(broker, "st"))["link"] == "up", what="link up")
        wait_for(lambda: retained(broker, "st/devices/meter") == "online", what="device online")
        bridge.p.send_signal(signal.SIGINT)
        code, _, err = bridge.finish()
        assert code == 130
        st = stats_of(err)
        assert st["reconnects"] >= 1 and st["poll_errors"] >= 1 and st["polls"] >= 12
        status = json.loads(retained(broker, "st"))
        assert status["state"] == "offline" and "reason" not in status  # said so itself, not by the will
    finally:
        meter.stop()


def test_set_adds_fields_the_uplink_topic_template_uses(broker, procs, device):
    sub = subscriber(procs, broker.url, "-t", "plant/#", "-q", "1")
    bridge = procs("bridge", f"serial:{device.path}", broker.url, "-t", "plant/{dev}/{dir}", "--whole",
                   "--set", "dev=pump1", "--set", "line=3", "--status-topic", "st3", "--verbose")
    bridge.wait_stderr("connected to")
    device.write(0, 2)
    sub.read_until(lambda out: out.count(b"\n") >= 2)
    got = records(sub.out)
    assert [x["topic"] for x in got] == ["plant/pump1/rx"] * 2
    rec = [json.loads(x["text"]) for x in got]
    assert [(r["text"], r["dev"], r["line"]) for r in rec] == [("0", "pump1", 3), ("1", "pump1", 3)]
    bridge.p.send_signal(signal.SIGINT)
    assert bridge.finish()[0] == 130
    # a core field cannot be set, and without --set the template names what is missing
    r = run("bridge", f"serial:{device.path}", broker.url, "-t", "plant/{dev}", "--set", "seq=1")
    assert r.returncode == 2 and b"'seq' is a field m2mkit itself writes" in r.stderr


def test_broker_restart_during_a_qos1_uplink_loses_nothing(tmp_path, broker, procs, device):
    """20,000 records from the device at QoS 1; the broker is stopped for 3 s in the middle and
    started again: every record arrives (by the device's own numbering), duplicates counted."""
    n = 20000
    sub = subscriber(procs, broker.url, "-t", "up", "-q", "1", "-c", "-i", "uplink-sub", "--stats")
    bridge = procs("bridge", f"serial:{device.path}", broker.url, "-t", "up", "--whole", "--stats",
                   "--status-topic", "st2", "--verbose")
    bridge.wait_stderr("connected to")
    device.write(0, n // 2)
    sub.read_until(lambda out: out.count(b"\n") >= 2000)
    broker.stop()  # with messages in flight
    time.sleep(3)  # the outage itself is what is being tested
    device.write(n // 2, n)  # read and queued by the bridge meanwhile
    broker.start()
    want = {str(i) for i in range(n)}
    try:
        sub.read_until(lambda out: set(texts(sub)) >= want, timeout=120)
    finally:
        missing = sorted(want - set(texts(sub)), key=int)
        assert not missing, f"{len(missing)} missing: {missing[:10]}"
    bridge.p.send_signal(signal.SIGINT)
    code, _, err = bridge.finish()
    assert code == 130, err.decode()
    st = stats_of(err)
    assert st["reconnects"] >= 1 and st["records_in"] == n and st["drops"] == {}
    assert st["acked"] == st["published"] - st["failed"]
    code, out, err = sub.interrupt()
    got = texts(sub)
    assert stats_of(err)["received"] == len(got) >= n  # what came twice is counted, not hidden
    seqs = [json.loads(x["text"])["seq"] for x in records(sub.out)]
    assert sorted(set(seqs)) == list(range(1, n + 1))  # the bridge's own numbering, no gaps


def test_bridge_killed_and_restarted_with_persist_loses_nothing(tmp_path, broker, procs, device):
    """The broker is away, the bridge journals what the device sends, and is killed (SIGKILL); the
    broker comes back, the bridge is started again on the same --persist directory: everything
    the device sent arrives."""
    n = 5000
    journal = tmp_path / "journal"
    sub = subscriber(procs, broker.url, "-t", "up", "-q", "1", "-c", "-i", "persist-sub")
    args = [f"serial:{device.path}", broker.url, "-t", "up", "--whole", "--persist", str(journal),
            "--status-topic", "st3", "--verbose"]
    bridge = procs("bridge", *args)
    bridge.wait_stderr("connected to")
    device.write(0, 100)
    sub.read_until(lambda out: out.count(b"\n") >= 100)
    broker.stop()
    device.write(100, n)

    def journaled():
        # the last message is in the journal, so all before it are (they are appended in order);
        # counting entries raced: the first 100, acknowledged, may still be in the file or not
        p = journal / "journal"
        if not p.exists():
            return False
        for line in p.read_bytes().split(b"\n"):
            at = line.find(b" M{")  # a message entry: its body is the message as JSON
            try:
                body = json.loads(line[at + 2:]) if at >= 0 else {}
            except ValueError:
                continue  # the last entry, being written
            if f'"text":"{n - 1}"'.encode() in base64.b64decode(body.get("b64", "")):
                return True
        return False
    wait_for(journaled, what="the bridge to journal everything")
    bridge.p.send_signal(signal.SIGKILL)
    bridge.p.wait()
    broker.start()
    bridge = procs("bridge", *args, "--stats")
    bridge.wait_stderr("sent again")
    want = {str(i) for i in range(n)}
    try:
        sub.read_until(lambda out: set(texts(sub)) >= want, timeout=60)
    finally:
        missing = sorted(want - set(texts(sub)), key=int)
        assert not missing, f"{len(missing)} missing: {missing[:10]}"
    # once everything is acknowledged the journal is emptied
    wait_for(lambda: (journal / "journal").stat().st_size == 0, what="the journal to empty")
    bridge.p.send_signal(signal.SIGINT)
    code, _, err = bridge.finish()
    assert code == 130 and stats_of(err)["drops"] == {}


def test_overflow_drops_the_oldest_and_counts_them(tmp_path, procs, device):
    """No broker at all after the start: past --buffer the oldest messages are dropped, counted."""
    b = Broker(tmp_path).start()
    bridge = procs("bridge", f"serial:{device.path}", b.url, "-t", "up", "--buffer", "100", "--stats",
                   "--status-topic", "st4", "--verbose")
    bridge.wait_stderr("connected to")
    b.stop()
    device.write(0, 1000)
    bridge.wait_stderr("dropping the oldest")
    wait_for(lambda: device.unread() == 0, what="the bridge to read everything")
    # Records may reach the window before the bridge sees the broker gone; once it has, they
    # are back in the queue and count against the bound like the rest.
    bridge.wait_stderr("connection lost")
    bridge.p.send_signal(signal.SIGINT)
    code, _, err = bridge.finish()
    st = stats_of(err)
    assert code == 130
    assert st["records_in"] == 1000 and st["drops"]["overflow"] == 900 and st["queue"] == 100, json.dumps(st)


def test_shared_command_stream_config_file_and_periodic_stats(tmp_path, broker, procs):
    """Two bridges share one command stream ($share/...): each command reaches exactly one device.
    The second bridge takes its options from --config; the first publishes its counters."""
    import select
    d1, d2 = LineDevice(), LineDevice()
    try:
        stats_sub = subscriber(procs, broker.url, "-t", "s1/stats", "-C", "1")
        b1 = procs("bridge", f"serial:{d1.path}", broker.url, "-t", "up1", "--command-topic", "$share/g/cmd",
                   "--status-topic", "s1", "--stats-interval", "200ms", "--verbose")
        (tmp_path / "b2.conf").write_text(f'topic = "up2"\ncommand-topic = "$share/g/cmd"\n'
                                          f'status-topic = "s2"\nframing = "line"\n')
        b2 = procs("bridge", f"serial:{d2.path}", broker.url, "--config", str(tmp_path / "b2.conf"), "--verbose")
        for b in (b1, b2):
            b.wait_stderr("connected to")
        assert json.loads(retained(broker, "s2"))["state"] == "online"
        n = 20
        for i in range(n):
            subprocess.run(["mosquitto_pub", "-p", str(broker.port), "-t", "cmd", "-q", "1", "-m", f"cmd {i}"],
                           check=True)
        got = {d1.master: b"", d2.master: b""}
        deadline = time.monotonic() + 20
        while sum(v.count(b"\n") for v in got.values()) < n:
            assert time.monotonic() < deadline, got
            r, _, _ = select.select(list(got), [], [], 1)
            for fd in r:
                got[fd] += os.read(fd, 4096)
        lines = [x for v in got.values() for x in v.decode().splitlines()]
        assert sorted(lines) == sorted(f"cmd {i}" for i in range(n))  # each exactly once
        code, out, _ = stats_sub.finish()
        st = json.loads(records(out)[0]["text"])
        assert st["link"] == "up" and "queue" in st and "reconnects" in st and "drops" in st
    finally:
        d1.close()
        d2.close()


BUS_MAP = """
[[device]]
name = "a"
unit = 1
poll = "200ms"
[[device.value]]
name = "count"
addr = 0
[[device.value]]
name = "temp"
addr = 1
type = "int16"
scale = 0.1
[[device.value]]
name = "volts"
addr = 2
type = "float32"
[[device.value]]
name = "tail"
addr = 10
[[device]]
name = "b"
unit = 2
poll = "200ms"
[[device.value]]
name = "low"
addr = 0
[[device.value]]
name = "high"
addr = 8
[[device.value]]
name = "missing"
addr = 40
[[device]]
name = "c"
unit = 3
poll = "200ms"
[[device.value]]
name = "x"
addr = 0
[[device.value]]
name = "y"
addr = 1
"""


def test_polling_groups_reads_spaces_frames_and_backs_off_a_silent_unit(tmp_path, broker, procs):
    """Three units on one RTU bus: unit 1's four values come in one read; unit 2 refuses a merged
    read across registers it lacks (exception 2), so its values are read one by one, and a value it
    does not have is published as an error; unit 3 never answers: tried twice (--retries 1), marked
    offline, and backed off so it holds a shrinking share of the bus. Between one exchange and the
    next the line is quiet for at least 3.5 characters (1.75 ms above 19200 baud)."""
    from modbus_bus import Bus
    volts = struct.unpack(">HH", struct.pack(">f", 230.5))
    bus = Bus({1: {0: 7, 1: 0xFFFF - 214, 2: volts[0], 3: volts[1], **{a: a for a in range(4, 11)}},
               2: {0: 11, 1: 12, 8: 18}})
    (tmp_path / "bus.toml").write_text(BUS_MAP)
    sub = subscriber(procs, broker.url, "-t", "m2m/#", "-q", "1")
    bridge = procs("bridge", f"serial:{bus.path}", broker.url, "--framing", "modbus-rtu", "--map", str(tmp_path / "bus.toml"),
                   "--status-topic", "bus", "--reply-timeout", "300ms", "--retries", "1", "--stats")
    try:
        wait_for(lambda: len(bus.requests(1)) >= 14, timeout=30, what="14 rounds of unit 1")
        bridge.p.send_signal(signal.SIGINT)
        code, _, err = bridge.finish()
        assert code == 130, err.decode()
    finally:
        bus.close()
    one, two, three = bus.requests(1), bus.requests(2), bus.requests(3)
    assert {r[:4] for r in one} == {(1, 3, 0, 11)}  # one read for four values, registers 0-10
    assert two[0][:4] == (2, 3, 0, 9)  # merged across 2-7, which unit 2 lacks: refused
    assert {r[:4] for r in two[1:]} == {(2, 3, 0, 1), (2, 3, 8, 1), (2, 3, 40, 1)}
    # unit 3: every probe is tried twice; it is probed ever less often while unit 1 is read each round
    assert {r[:4] for r in three} == {(3, 3, 0, 2)} and len(three) % 2 == 0
    assert len(three) // 2 < len(one) / 2, (len(three), len(one))
    # quiet line: from each answer to the next request, at least 1.75 ms
    log = sorted(bus.requests(), key=lambda r: r[4])
    gaps = [b[4] - a[5] for a, b in zip(log, log[1:]) if a[5] is not None]
    assert min(gaps) >= 0.00175, min(gaps)
    st = stats_of(err)
    assert st["retries"] >= len(three) // 2 and st["reply_timeouts"] == len(three)
    sub.read_until(lambda out: b'"topic":"m2m/b/missing"' in out and b'"topic":"m2m/a/tail"' in out)
    got = {}
    for x in records(sub.out[:sub.out.rfind(b"\n") + 1]):
        v = json.loads(x["text"])
        got[(v["device"], v["name"])] = v.get("value", v.get("error"))
    assert got[("a", "count")] == 7 and got[("a", "temp")] == -21.5 and got[("a", "volts")] == 230.5
    assert got[("a", "tail")] == 10 and got[("b", "low")] == 11 and got[("b", "high")] == 18
    assert got[("b", "missing")] == "exception 2 (illegal data address)"
    assert ("c", "x") not in got
    assert retained(broker, "bus/devices/c") == "offline"
    # and at a clean exit every device says offline (the last will covers a crash)
    assert retained(broker, "bus/devices/a") == "offline" and retained(broker, "bus/devices/b") == "offline"
    assert "reason" not in json.loads(retained(broker, "bus"))  # its own word, not the will's


def test_writes_by_name_from_the_map(tmp_path, broker, procs):
    """{"set":{NAME:VALUE}} on the command topic is encoded from the register map and written; its
    outcome (written, refused, exception, no answer) comes back on the reply topic with the
    command's cid, or on an MQTT 5 command's response topic with its correlation data."""
    meter = Meter(tmp_path)
    # one poll round at start only: none is in flight when the bridge goes and mbpoll takes the line
    text = open(os.path.join(os.path.dirname(__file__), "../../fixtures/devices/meter-map.toml")).read()
    text = text.replace('poll = "1s"', 'poll = "1h"')
    text += '\n[[device]]\nname = "ghost"\nunit = 9\npoll = "1h"\n[[device.value]]\nname = "x"\naddr = 0\n'
    (tmp_path / "map.toml").write_text(text)
    sub = subscriber(procs, broker.url, "-t", "gw/reply", "-t", "gw/r5", "-q", "1", "-V", "5")
    bridge = procs("bridge", meter.uri, broker.url, "--framing", "modbus-rtu", "--map", str(tmp_path / "map.toml"), "-V", "5",
                   "--command-topic", "gw/cmd", "--reply-topic", "gw/reply", "--status-topic", "gw3",
                   "--reply-timeout", "1s", "--verbose")
    try:
        bridge.wait_stderr("connected to")
        pub = ["mosquitto_pub", "-p", str(broker.port), "-t", "gw/cmd", "-q", "1", "-m"]
        subprocess.run(pub + ['{"set":{"setpoint":321,"relay":false},"cid":"c-1"}'], check=True)
        subprocess.run(pub + ['{"set":{"temperature":5,"stepoint":1}}'], check=True)
        subprocess.run(pub + ['{"set":{"setpoint":70000}}'], check=True)
        subprocess.run(pub + ['{"set":{"x":1},"device":"ghost"}'], check=True)
        subprocess.run(["mosquitto_pub", "-V", "5", "-p", str(broker.port), "-t", "gw/cmd", "-q", "1",
                        "-D", "publish", "response-topic", "gw/r5", "-D", "publish", "correlation-data", "k-9",
                        "-m", '{"set":{"setpoint":654}}'], check=True)
        sub.read_until(lambda out: out.count(b"\n") >= 7)
        got = [(x["topic"], json.loads(x["text"]), x.get("props", {})) for x in records(sub.out)]
        out = {(o["name"], o["value"]): (t, o["result"], o.get("error"), o.get("cid"), p.get("correlation_data"))
               for t, o, p in got}
        assert out[("setpoint", 321)] == ("gw/reply", "written", None, "c-1", None)
        assert out[("relay", False)] == ("gw/reply", "written", None, "c-1", None)
        assert out[("temperature", 5)] == ("gw/reply", "refused", "'temperature' is an input register: read-only",
                                           None, None)
        assert out[("stepoint", 1)][1:3] == ("refused", "no value 'stepoint' in the map (did you mean 'setpoint'?)")
        assert out[("setpoint", 70000)][1:3] == ("refused", "value 70000 does not fit uint16")
        assert out[("x", 1)][1:3] == ("no answer", "no reply within 1s")
        assert out[("setpoint", 654)] == ("gw/r5", "written", None, None, "k-9")
        bridge.p.send_signal(signal.SIGINT)
        assert bridge.finish()[0] == 130
        # only one master on the line at a time: mbpoll after the bridge has gone
        assert meter.mbpoll("-t", "4", "-r", "6", "-c", "1") == {6: 654}
        assert meter.mbpoll("-t", "0", "-r", "0", "-c", "1") == {0: 0}
    finally:
        meter.stop()


def test_modbus_tcp_masters_share_the_bus_with_the_bridges_polling(tmp_path, broker, procs):
    """--modbus-server: two mbpoll TCP masters at once, and the bridge's own polling, through one
    RTU meter: every answer right, each to the master that asked; a unit that is not on the bus is
    exception 11 (gateway target device failed to respond)."""
    import threading
    from mqtt_broker import free_port
    meter = Meter(tmp_path)
    port = free_port()
    (tmp_path / "map.toml").write_text(open(os.path.join(os.path.dirname(__file__),
                                                         "../../fixtures/devices/meter-map.toml")).read()
                                       .replace('poll = "1s"', 'poll = "100ms"'))
    sub = subscriber(procs, broker.url, "-t", "m2m/#", "-q", "1")
    bridge = procs("bridge", meter.uri, broker.url, "--framing", "modbus-rtu", "--map", str(tmp_path / "map.toml"),
                   "--status-topic", "gw4", "--reply-timeout", "1s", "--stats", "--verbose",
                   "--modbus-server", f"tcp-listen://127.0.0.1:{port}")
    try:
        bridge.wait_stderr("Modbus TCP masters served on")
        where = ["-m", "tcp", "-p", str(port), "127.0.0.1"]
        results, errors = [], []

        def master(opts, want, n):
            for _ in range(n):
                r = subprocess.run(["mbpoll", "-1", "-0", "-a", "1", "-o", "2", *opts, *where],
                                   capture_output=True, timeout=30)
                got = [line.split("\t")[-1] for line in r.stdout.decode().splitlines() if line.startswith("[")]
                (results if r.returncode == 0 and got == want else errors).append((opts, got, r.stdout[-200:]))

        threads = [threading.Thread(target=master, args=(["-t", "4", "-r", "0", "-c", "2"], ["1234", "65534 (-2)"], 15)),
                   threading.Thread(target=master, args=(["-t", "3:float", "-B", "-r", "0"], ["21.5"], 15))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == [] and len(results) == 30
        r = subprocess.run(["mbpoll", "-1", "-0", "-a", "7", "-o", "2", "-t", "4", "-r", "0", *where],
                           capture_output=True, timeout=30)
        assert r.returncode != 0 and b"Target device failed to respond" in r.stderr  # libmodbus names exception 11 so
        sub.read_until(lambda out: out.count(b'"topic":"m2m/meter/voltage"') >= 3)  # its own polling went on
        # the bus gone (the device's pty closed): exception 10, gateway path unavailable
        meter.stop()
        wait_for(lambda: json.loads(retained(broker, "gw4"))["link"] == "down", what="link down")
        r = subprocess.run(["mbpoll", "-1", "-0", "-a", "1", "-o", "2", "-t", "4", "-r", "0", *where],
                           capture_output=True, timeout=30)
        assert r.returncode != 0 and b"Gateway path unavailable" in r.stderr
        bridge.p.send_signal(signal.SIGINT)
        code, _, err = bridge.finish()
        assert code == 130
        st = stats_of(err)
        assert st["gateway_requests"] == 32 and st["gateway_answers"] == 30 and st["gateway_exceptions"] == 2
    finally:
        meter.stop()


def test_the_demo_publishes_values_as_people_read_them(tmp_path, broker, procs):
    """The demo's meter drifts (float32 volts to 0.1, temperature to 0.01, energy in Wh scaled to
    kWh): every value published reads as written, no float artifacts (123.47800000000001)."""
    import re
    meter = Meter(tmp_path, animate=True)
    (tmp_path / "map.toml").write_text(open(os.path.join(os.path.dirname(__file__),
                                                         "../../fixtures/devices/meter-map.toml")).read()
                                       .replace('poll = "1s"', 'poll = "200ms"'))
    sub = subscriber(procs, broker.url, "-t", "m2m/meter/+", "-q", "1")
    procs("bridge", meter.uri, broker.url, "--framing", "modbus-rtu", "--map", str(tmp_path / "map.toml"),
          "--status-topic", "demo", "--on-change")
    try:
        sub.read_until(lambda out: out.count(b'"topic":"m2m/meter/energy_kwh"') >= 3)  # it moved twice
        texts = [x["text"] for x in records(sub.out[:sub.out.rfind(b"\n") + 1])]
        numbers = [re.search(r'"value":(-?[0-9.e+-]+)', t)[1] for t in texts]
        assert all(len(n.split(".")[1]) <= 3 if "." in n else True for n in numbers), numbers
    finally:
        meter.stop()
