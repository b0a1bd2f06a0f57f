"""The gateway's uplink, side by side in one run: bridge, `m2m-listen | iot-pub`, and
`socat | mosquitto_pub -l`, from a pty device to a mosquitto_sub on a local broker, at QoS 1.
Records/s for a burst, and end-to-end latency (line written -> message at the subscriber)
p50/p99 at a paced 200 lines/s. Every step is bounded in count and time.
Usage: bench_bridge.py TOOLS_DIR [SCALE]"""
import os
import subprocess
import sys
import tempfile
import threading
import time
import tty
from pathlib import Path

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "../integration"))
from mqtt_broker import Broker  # noqa: E402

tools = sys.argv[1]
scale = float(sys.argv[2]) if len(sys.argv) > 2 else 1.0


def pipelines(port, pty):
    url = f"mqtt://127.0.0.1:{port}"
    return {
        "bridge": f"{tools}/bridge serial:{pty} {url} -t bench/x -q 1 --status-topic bench/st",
        "m2m-listen | iot-pub": f"{tools}/m2m-listen serial:{pty} | {tools}/iot-pub {url} -t bench/x -q 1",
        "socat | mosquitto_pub -l": f"socat -u {pty},raw,echo=0 - | mosquitto_pub -p {port} -l -t bench/x -q 1",
    }


def run_case(broker, name, n, rate):
    master, slave = os.openpty()
    tty.setraw(slave)
    pty = os.ttyname(slave)
    # mosquitto_sub says nothing when it has subscribed: probe lines sent through the whole
    # pipeline until one arrives show that the subscriber and the pipeline are both up
    sub = subprocess.Popen(["mosquitto_sub", "-p", str(broker.port), "-t", "bench/x", "-q", "1"],
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    gw = subprocess.Popen(pipelines(broker.port, pty)[name], shell=True, stderr=subprocess.DEVNULL,
                          start_new_session=True)
    ready, done = threading.Event(), threading.Event()
    arrivals = []

    def reader():
        for line in sub.stdout:
            if line.startswith(b"probe"):
                ready.set()
                continue
            arrivals.append((time.time_ns(), line))
            if len(arrivals) == n:
                done.set()
    t = threading.Thread(target=reader, daemon=True)
    t.start()
    deadline = time.monotonic() + 30
    while not ready.wait(0.2):  # until the subscriber and the pipeline are both up
        assert time.monotonic() < deadline, f"{name}: the probe never arrived"
        os.write(master, b"probe\n")
    t0 = time.monotonic()
    if rate:
        for i in range(n):
            target = t0 + i / rate
            while time.monotonic() < target:
                time.sleep(max(0, target - time.monotonic()))
            os.write(master, f"{i} {time.time_ns()}\n".encode())
    else:
        data = b"".join(f"{i} {time.time_ns()}\n".encode() for i in range(n))
        while data:
            data = data[os.write(master, data[:4096]):]
    done.wait(120)  # bounded: a pipeline that loses messages is reported, not waited for
    dt = time.monotonic() - t0
    sub.terminate()
    sub.wait()
    os.killpg(gw.pid, 15)
    gw.wait()
    os.close(master)
    os.close(slave)
    lat = sorted((at - int(line.split()[1])) / 1e6 for at, line in arrivals if len(line.split()) == 2)
    got = len(arrivals)
    return got / dt, lat, got


def main():
    n = max(2000, int(20000 * scale))
    paced = max(200, int(400 * scale))
    with tempfile.TemporaryDirectory() as d:
        b = Broker(Path(d)).start()
        try:
            names = list(pipelines(0, "x"))
            res = {}
            for name in names:
                rate, _, got = run_case(b, name, n, 0)
                _, lat, got2 = run_case(b, name, paced, 200)
                res[name] = (rate, lat[len(lat) // 2] if lat else float("nan"),
                             lat[int(len(lat) * 0.99)] if lat else float("nan"), got, got2)
            print(f"{'uplink, QoS 1':<26} {'records/s':>10} {'p50 ms':>8} {'p99 ms':>8}  (burst of {n}, paced {paced} at 200/s)")
            for name in names:
                r, p50, p99, got, got2 = res[name]
                note = "" if got == n and got2 == paced else f"  (delivered {got}/{n}, {got2}/{paced})"
                print(f"{name:<26} {r:>10.0f} {p50:>8.2f} {p99:>8.2f}{note}")
            br = res["bridge"]
            for name in names[1:]:
                o = res[name]
                print(f"bridge vs {name}: throughput x{br[0] / o[0]:.2f}, p50 latency x{br[1] / o[1]:.2f}, "
                      f"p99 x{br[2] / o[2]:.2f} (latency: lower is better)")
        finally:
            b.stop()


if __name__ == "__main__":
    main()
