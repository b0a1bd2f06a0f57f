"""The gateway's uplink (#18): bridge against `socat | mosquitto_pub -l` and against m2m-listen |
iot-pub, from a pty device to a live mosquitto_sub on a local broker, at QoS 0 and 1. Each pipeline
is started and shown up (probe lines through it until one arrives), then a burst of lines is
written into the pty; records/s from the first write to the last arrival, counted at the
subscriber -- an iot-sub, the same for every pipeline: mosquitto_sub prints ~110k/s here, a ceiling
all three met at QoS 0 -- (a pipeline that lost some is reported as a loss). Peak RSS summed over a pipeline's
processes. The same window everywhere: 100 messages in flight (mosquitto_pub -M 100; the bridge's
and iot-pub's default). Alternating runs, medians; every wait bounded. The note gives each side's
CPU per message (all its processes, from GNU time) and how busy the broker was during the burst
(its CPU time over the burst's time, from /proc): a broker near 100 % is the ceiling both share.
Usage: bench_bridge.py TOOLS_DIR [SCALE]"""
import os
import subprocess
import sys
import tempfile
import time
import tty
from pathlib import Path

sys.path.insert(0, os.path.dirname(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "../integration"))
import statistics  # noqa: E402
from benchlib import Sample, Spawned, Subscriber, alternate, row  # noqa: E402
from mqtt_broker import Broker  # noqa: E402

tools = sys.argv[1]
scale = float(sys.argv[2]) if len(sys.argv) > 2 else 1.0


def pipeline(name, port, pty, topic, qos):
    """The processes of one pipeline, each under GNU time, stdout of one into the next."""
    url = f"mqtt://127.0.0.1:{port}"
    q = ["-q", str(qos)]
    if name == "bridge":
        return [Spawned([f"{tools}/bridge", f"serial:{pty}", url, "-t", topic, *q, "--status-topic", topic + "/st"],
                        stderr=subprocess.DEVNULL)]
    if name == "m2m-listen | iot-pub":
        a = Spawned([f"{tools}/m2m-listen", f"serial:{pty}"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        b = Spawned([f"{tools}/iot-pub", url, "-t", topic, *q], stdin=a.p.stdout, stderr=subprocess.DEVNULL)
    else:
        a = Spawned(["socat", "-u", f"{pty},raw,echo=0", "-"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        b = Spawned(["mosquitto_pub", "-p", str(port), "-l", "-t", topic, *q, "-M", "100"], stdin=a.p.stdout,
                    stderr=subprocess.DEVNULL)
    a.p.stdout.close()  # the next process holds it
    return [a, b]


def cpu_seconds(pid):
    """User + system CPU seconds of a process so far (/proc/PID/stat)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_case(broker, name, n, qos):
    port = broker.port
    master, slave = os.openpty()
    tty.setraw(slave)
    pty = os.ttyname(slave)
    topic = f"bench/bridge/{time.monotonic_ns()}"
    sub = Subscriber(port, topic, qos, probe=b"probe", iot_sub=f"{tools}/iot-sub")
    procs = pipeline(name, port, pty, topic, qos)
    try:
        deadline = time.monotonic() + 30
        while not sub.probed.wait(0.2):  # until the pipeline is up end to end
            if time.monotonic() > deadline:
                raise TimeoutError(f"{name}: no probe arrived")
            os.write(master, b"probe\n")
        base = sub.count
        data = memoryview(b"".join(f"{i} {time.time_ns()}\n".encode() for i in range(n)))
        t0 = time.perf_counter()
        b0 = cpu_seconds(broker.proc.pid)
        while data:
            data = data[os.write(master, data[:4096]):]
        got = sub.wait_for(base + n, 10) - base  # ends when all arrived or 10 s passed with none
        dt = time.perf_counter() - t0
        busy = (cpu_seconds(broker.proc.pid) - b0) / dt
    finally:
        rss = sum(p.stop(2) or 0 for p in procs)  # SIGINT: each ends as a user's Ctrl-C ends it
        sub.stop()
        os.close(master)
        os.close(slave)
    s = Sample(got / dt, lost=n - got, rss_kb=rss, expected=n)
    s.busy = busy
    s.cpu_us = sum(p.cpu() or 0 for p in procs) / max(1, got) * 1e6  # whole run, probes included
    return s


def note(ours, theirs):
    m = lambda xs, k: statistics.median(getattr(x, k) for x in xs)  # noqa: E731
    return (f"CPU {m(ours, 'cpu_us'):.1f} vs {m(theirs, 'cpu_us'):.1f} us/msg; broker busy "
            f"{m(ours, 'busy') * 100:.0f} % vs {m(theirs, 'busy') * 100:.0f} %")


def main():
    n = max(2000, int(100_000 * scale))
    with tempfile.TemporaryDirectory() as d:
        b = Broker(Path(d)).start()
        try:
            for qos in (0, 1):
                for anchor in ("socat | mosquitto_pub -l", "m2m-listen | iot-pub"):
                    ours, theirs = alternate(lambda: run_case(b, "bridge", n, qos),
                                             lambda: run_case(b, anchor, n, qos))
                    row(f"bridge uplink, QoS {qos}, {n:,} lines", "msg/s", ours, theirs, anchor,
                        note=note(ours, theirs))
        finally:
            b.stop()


if __name__ == "__main__":
    main()
