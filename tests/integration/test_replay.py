"""replay: timing against absolute deadlines, speed, rate, loops and windows, raw CSV, and a
simulated device served from a capture (answering m2m-send --reply)."""
import datetime
import json
import os
import select
import subprocess
import time

from conftest import records, run, stats_of, tool

FIXTURES = os.path.join(os.path.dirname(__file__), "../../fixtures")


def recording(path, n, step_ms):
    """n records step_ms apart from 2026-11-21T10:00:00Z."""
    start = datetime.datetime(2026, 11, 21, 10, tzinfo=datetime.timezone.utc)

    def ts(i):
        return (start + datetime.timedelta(milliseconds=i * step_ms)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    path.write_text("".join(json.dumps({"ts": ts(i), "seq": i, "text": f"r{i}"}) + "\n" for i in range(n)))
    return str(path)


def arrivals(args):
    """Runs replay, noting when each line arrives; returns [(monotonic s since replay was
    started, record)], stderr."""
    t0 = time.monotonic()
    p = subprocess.Popen([tool("replay"), *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    got, buf = [], b""
    while True:
        r, _, _ = select.select([p.stdout], [], [], 30)
        assert r, "replay stalled"
        chunk = os.read(p.stdout.fileno(), 65536)
        now = time.monotonic()
        if not chunk:
            break
        buf += chunk
        while b"\n" in buf:
            line, buf = buf.split(b"\n", 1)
            got.append((now - t0, json.loads(line)))
    err = p.stderr.read()
    assert p.wait(timeout=10) == 0, err.decode()
    return got, err


def test_speed_2_halves_the_spacing(tmp_path):
    f = recording(tmp_path / "r.jsonl", 21, 100)
    got, err = arrivals([f, "--speed", "2", "--stats"])
    assert [r["seq"] for _, r in got] == list(range(21))
    # never early: record i is due 50 ms x i after the start (how late it comes is a benchmark's
    # business; a loaded CI machine may be late, never early)
    assert all(t >= i * 0.050 for i, (t, _) in enumerate(got)), [round(t, 3) for t, _ in got]
    st = stats_of(err)
    assert st["replayed"] == 21
    # the lateness replay reports is its own measurement: at most the time the whole run took
    assert 0 < st["late_p99_us"] <= st["late_max_us"] <= got[-1][0] * 1e6


def test_speed_0_is_complete_and_ordered(tmp_path):
    f = recording(tmp_path / "r.jsonl", 10000, 1000)  # 10,000 s of recording
    r = run("replay", f, "--speed", "0")
    assert r.returncode == 0, r.stderr.decode()
    assert [x["seq"] for x in records(r.stdout)] == list(range(10000))
    assert r.stdout == open(f, "rb").read()  # the records as they were, byte for byte


def test_loop_window_rate_and_rebase(tmp_path):
    f = recording(tmp_path / "r.jsonl", 10, 100)
    r = run("replay", f, "--speed", "0", "--loop", "3")
    assert [x["seq"] for x in records(r.stdout)] == list(range(10)) * 3
    r = run("replay", f, "--speed", "0", "--from", "200ms", "--to", "500ms")
    assert [x["seq"] for x in records(r.stdout)] == [2, 3, 4]
    r = run("replay", f, "--speed", "0", "--from", "2026-11-21T10:00:00.700000Z")
    assert [x["seq"] for x in records(r.stdout)] == [7, 8, 9]
    got, _ = arrivals([f, "--rate", "100/s", "--rebase"])
    assert all(t >= i * 0.010 for i, (t, _) in enumerate(got)), [round(t, 3) for t, _ in got]  # 100/s, never early
    assert all(x["ts"].startswith(time.strftime("%Y-", time.gmtime())) for _, x in got)  # stamped now
    bad = run("replay", f, "--loop", "0")
    assert bad.returncode == 2 and "--loop" in bad.stderr.decode()


def test_raw_csv_with_a_time_column(tmp_path):
    (tmp_path / "c.csv").write_text("1700000000.0,a\n1700000000.05,b\n1700000000.1,c\n")
    r = run("replay", "-l", "--ts-column", "1", str(tmp_path / "c.csv"), "--speed", "0")
    assert r.stdout == b"1700000000.0,a\n1700000000.05,b\n1700000000.1,c\n"
    r = run("replay", "-l", "--ts-column", "3", str(tmp_path / "c.csv"))
    assert r.returncode == 3 and "c.csv:1: no column 3" in r.stderr.decode()
    r = run("replay", str(tmp_path / "c.csv"))
    assert r.returncode == 3 and "c.csv:1:" in r.stderr.decode()  # not records: names the line


def test_serve_answers_m2m_send_from_a_capture(tmp_path, procs):
    dev = tmp_path / "meter"
    srv = procs("replay", "--serve", f"{FIXTURES}/devices/meter-capture.jsonl", f"pty:{dev}", "--framing", "modbus-rtu",
                "--verbose", "--stats")
    srv.wait_stderr("serving")
    reqs = [{"fc": 3, "addr": 0, "count": 2}, {"fc": 4, "addr": 0, "count": 3}, {"fc": 6, "addr": 7, "value": 42},
            {"fc": 3, "addr": 100, "count": 2}, {"fc": 3, "addr": 5, "count": 1}]
    r = run("m2m-send", f"serial:{dev}", "--framing", "modbus-rtu", "--reply", "--reply-timeout", "300ms", "--stats",
            input="".join(json.dumps({"modbus": q}) + "\n" for q in reqs))
    # the recorded exception (line 4) is a wrong answer: the first failure decides the exit status
    assert r.returncode == 5, r.stderr.decode()
    assert "line 4: unit 1 answered fc 3 with Modbus exception 2" in r.stderr.decode()
    assert "line 5: no reply within 300ms" in r.stderr.decode()
    views = [x["modbus"] for x in records(r.stdout)]
    assert views[0]["regs"] == [1234, 65534]
    assert views[1]["regs"] == [16812, 0, 455]
    assert views[2] == {"unit": 1, "fc": 6, "kind": "response", "addr": 7, "value": 1}  # matched by pattern
    assert views[3]["exception"] == 2
    assert len(views) == 4 and stats_of(r.stderr)["reply_timeouts"] == 1  # the unrecorded request
    code, _, err = srv.interrupt()
    assert code == 130
    st = stats_of(err)
    assert st["answered"] == 4 and st["unmatched"] == 1
    assert "unmatched request 010300050001" in err.decode()


def test_straight_to_a_broker_on_time_and_through_a_restart(tmp_path, procs):
    """replay FILE mqtt://...: each record published as iot-pub would, with the recorded spacing
    (iot-sub stamps arrivals); then a QoS 1 replay that outlives a broker restart loses nothing."""
    from mqtt_broker import Broker
    b = Broker(tmp_path).start()
    try:
        f = recording(tmp_path / "r.jsonl", 21, 100)
        sub = procs("iot-sub", b.url, "--verbose", "-t", "rp/#", "-C", "21", "-W", "30s", "-q", "1")
        sub.wait_stderr("subscribed to")
        t0 = time.time()
        r = run("replay", f, "--speed", "2", f"{b.url}/rp/r{{seq}}", "-q", "1", "--stats")
        assert r.returncode == 0, r.stderr.decode()
        st = stats_of(r.stderr)
        assert st["replayed"] == st["published"] == st["acked"] == 21
        code, out, err = sub.finish()
        assert code == 0, err.decode()
        got = records(out)
        assert [g["topic"] for g in got] == [f"rp/r{i}" for i in range(21)]
        assert [g["text"] for g in got] == [f"r{i}" for i in range(21)]
        t = [datetime.datetime.fromisoformat(g["ts"].replace("Z", "+00:00")).timestamp() for g in got]
        assert all(ti - t0 >= i * 0.050 for i, ti in enumerate(t)), [round(ti - t0, 3) for ti in t]  # never early

        # 3,000 records over 3 s at QoS 1; the broker (keeping the subscriber's session on disk)
        # goes away for a moment in the middle
        b.stop()
        b = Broker(tmp_path, persistence=True).start()
        n = 3000
        big = recording(tmp_path / "big.jsonl", n, 1)
        sub = procs("iot-sub", b.url, "--verbose", "-t", "big/#", "-q", "1", "-c", "-i", "replay-big-sub")
        sub.wait_stderr("subscribed to")
        rp = procs("replay", big, f"{b.url}/big/x", "-q", "1", "--stats", "--verbose")
        sub.read_until(lambda out: out.count(b"\n") >= 500)  # records are flowing: now the broker goes
        b.stop()
        rp.wait_stderr("reconnecting")
        b.start()
        code, _, err = rp.finish()
        assert code == 0, err.decode()
        st = stats_of(err)
        assert st["replayed"] == n and st["acked"] == st["published"] == n
        want = {f"r{i}" for i in range(n)}
        sub.read_until(lambda out: {r["text"] for r in records(out[: out.rfind(b"\n") + 1])} >= want, timeout=60)
        sub.interrupt()
    finally:
        b.stop()


def test_a_topic_too_long_for_mqtt_is_refused_not_injected(tmp_path, procs):
    """replay to a broker takes iot-pub's path: a topic filled from a record past 65,535 bytes
    would wrap its length and reach subscribers of plant/victim/cmd. It is named, counted, and
    the records around it go out."""
    from mqtt_broker import Broker
    b = Broker(tmp_path).start()
    try:
        f = tmp_path / "evil.jsonl"
        lines = [{"ts": "2026-01-01T00:00:00Z", "dev": "ok1", "text": "a"},
                 {"ts": "2026-01-01T00:00:00.01Z", "dev": "victim/cmd" + "x" * 65531, "text": "injected"},
                 {"ts": "2026-01-01T00:00:00.02Z", "dev": "ok2", "text": "b"}]
        f.write_text("".join(json.dumps(x) + "\n" for x in lines))
        sub = procs("iot-sub", b.url, "--verbose", "-t", "#", "-q", "1", "-C", "2", "-W", "20s")
        sub.wait_stderr("subscribed to")
        r = run("replay", f, "--speed", "0", f"{b.url}/plant/{{dev}}", "-q", "1", "--stats")
        err = r.stderr.decode()
        assert r.returncode == 0, err
        assert "line 2: topic of 65547 bytes: MQTT allows at most 65,535" in err
        st = stats_of(r.stderr)
        assert st["published"] == st["acked"] == 2 and st["bad_records"] == 1
        code, out, err = sub.finish()
        assert code == 0, err.decode()
        assert [(x["topic"], x["text"]) for x in records(out)] == [("plant/ok1", "a"), ("plant/ok2", "b")]
    finally:
        b.stop()


def test_broker_target_errors(tmp_path):
    f = recording(tmp_path / "r.jsonl", 3, 10)
    r = run("replay", f, "mqtt://127.0.0.1:1/x")
    assert r.returncode == 4 and "connection refused" in r.stderr.decode()
    r = run("replay", f, "--raw", "--rate", "10", "mqtt://127.0.0.1:1/x/{dev}")
    assert r.returncode == 2 and "plain --topic" in r.stderr.decode()


def test_an_endless_replay_at_full_speed_stops_at_sigint(tmp_path):
    """--speed 0 --loop inf is one chain of deferred work that never ends by itself: the event loop
    serves the signal between links (it once ran the chain without polling, and only SIGKILL
    ended it)."""
    import threading
    f = recording(tmp_path / "r.jsonl", 50, 10)
    p = subprocess.Popen([tool("replay"), f, "--speed", "0", "--loop", "inf"], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    started = threading.Event()

    def drain():  # read as fast as it writes, so it never waits for the pipe
        while os.read(p.stdout.fileno(), 1 << 20):
            started.set()
    threading.Thread(target=drain, daemon=True).start()
    try:
        assert started.wait(20), "replay wrote nothing"  # its loop runs (signals go to the signalfd)
        p.send_signal(2)
        code = p.wait(timeout=20)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    assert code == 130, p.stderr.read().decode()


def test_replay_to_a_pty_waits_for_a_slow_reader(tmp_path):
    """Everything replayed to a pty reaches a reader that is slow to read: replay ends only once
    the other side has taken every byte (it once closed the pty as soon as it had written, and the
    reader lost what it had not read yet)."""
    import fcntl
    import termios
    n = 200
    f = recording(tmp_path / "r.jsonl", n, 10)
    link = tmp_path / "dev"
    p = subprocess.Popen([tool("replay"), f, "--speed", "0", f"pty:{link}"], stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE)
    try:
        line = p.stderr.readline()  # "replay: pty device at /dev/pts/N (linked from ...)": it is there
        assert b"pty device at" in line, line
        deadline = time.monotonic() + 20
        fd = os.open(link, os.O_RDONLY | os.O_NOCTTY | os.O_NONBLOCK)  # raw already: replay set it
        want = sum(len(f"r{i}\n") for i in range(n))
        queued = bytearray(4)
        while True:  # everything written, nothing read yet: the slow reader's moment
            fcntl.ioctl(fd, termios.FIONREAD, queued)
            if int.from_bytes(queued, "little") >= want:
                break
            assert time.monotonic() < deadline, f"only {int.from_bytes(queued, 'little')} of {want} bytes"
            # no event says "the queue holds N bytes": look again shortly (bounded by the deadline)
            time.sleep(0.01)
        assert p.poll() is None  # still waiting for the reader
        got = b""
        while got.count(b"\n") < n:
            r, _, _ = select.select([fd], [], [], 10)
            assert r, f"stalled at {got.count(chr(10).encode())} lines"
            got += os.read(fd, 65536)
        assert got.decode().split() == [f"r{i}" for i in range(n)]
        assert p.wait(timeout=20) == 0, p.stderr.read().decode()
        os.close(fd)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()


def test_a_bad_line_in_a_recording_is_named_skipped_and_counted(tmp_path):
    """replay once stopped at the first bad line of a recording; now it names FILE:LINE, skips
    it and counts it, unless --strict, and a file with no good record is exit 3."""
    f = tmp_path / "rec.jsonl"
    f.write_text('{"ts":"2026-01-01T00:00:00Z","text":"a"}\nnot json\n'
                 '{"ts":"2026-01-01T00:00:01Z","text":"b"}\n' + '{"text":"' + "x" * 3000 + '"}\n')
    r = run("replay", str(f), "-", "--rate", "1000", "--max-line", "2000", "--stats")
    err = r.stderr.decode()
    assert r.returncode == 0, err
    assert [x["text"] for x in records(r.stdout)] == ["a", "b"]
    assert "rec.jsonl:2: malformed JSON" in err and "rec.jsonl:4: longer than" in err, err
    assert stats_of(r.stderr)["bad_records"] == 2
    r = run("replay", str(f), "-", "--rate", "1000", "--strict")
    assert r.returncode == 3 and r.stdout == b""
    assert r.stderr.decode().count("rec.jsonl:2: malformed JSON") == 1
    f.write_text("garbage\n")
    r = run("replay", str(f), "-")
    assert r.returncode == 3 and "no valid record in" in r.stderr.decode()


def test_set_adds_fields_to_every_replayed_record(tmp_path):
    """--set on replay, as on m2m-listen and iot-sub: the field a downstream template needs, over a
    field of the same name; a number stays as typed. Fields m2mkit writes are refused."""
    f = tmp_path / "r.jsonl"
    f.write_text('{"ts":"2026-01-01T00:00:00Z","text":"a","dev":"old"}\n'
                 '{"ts":"2026-01-01T00:00:00.1Z","text":"b"}\n')
    r = run("replay", f, "--speed", "0", "--set", "dev=pump1", "--set", "gain=1.10")
    assert r.returncode == 0, r.stderr.decode()
    lines = r.stdout.decode().splitlines()
    assert [json.loads(x)["dev"] for x in lines] == ["pump1", "pump1"]
    assert all(x.endswith('"dev":"pump1","gain":1.10}') for x in lines), lines
    r = run("replay", f, "--speed", "0", "--set", "text=x")
    assert r.returncode == 2 and "'text' is a field m2mkit itself writes" in r.stderr.decode()
