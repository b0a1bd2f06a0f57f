"""The rules every comparison in tests/bench follows (#18), in one place:

- m2mkit (A) and its anchor (B) alternate, A B B A ..., at least 3 runs each, so a slow moment of
  the machine falls on both; the row reports medians and the spread (max - min over the median,
  the larger of the two sides);
- a side that lost messages is reported as a loss ("lost 12 of 20000"), not as a ratio;
- every wait has a timeout (the helpers here take one and raise on it);
- peak RSS is each process's own, from GNU time (`spawn`): not os.wait4 on a child of this Python,
  whose peak includes the Python it was forked from; summed over a pipeline's processes. (A figure
  cannot be below GNU time's own before it runs the program, ~1 MB: below every tool's.)

Each row is printed when measured and appended to $M2MKIT_BENCH_ROWS (JSON Lines) when set, which
`tests/bench/run` (`./dev.sh bench`) prints at the end as one table:
case, m2mkit, anchor, ratio (> 1: m2mkit better), spread, the machine's ceiling where one applies,
and the peak RSS of each side.
Usage as a program: benchlib.py ROWS_FILE   (prints the table)"""
import json
import os
import select
import statistics
import subprocess
import sys
import time

RUNS = max(3, int(os.environ.get("BENCH_REPS", "3")))


class Sample:
    """One run: `value` in the row's unit; `lost` messages not delivered; `rss_kb` peak RSS."""

    def __init__(self, value, lost=0, rss_kb=None, expected=None):
        self.value, self.lost, self.rss_kb, self.expected = value, lost, rss_kb, expected


def alternate(a, b, runs=RUNS):
    """Runs a() and b() `runs` times each, A B B A A B ...; returns (a_samples, b_samples)."""
    xs, ys = [], []
    for i in range(runs):
        if i % 2 == 0:
            xs.append(a())
            ys.append(b())
        else:
            ys.append(b())
            xs.append(a())
    return xs, ys


def _spread(samples):
    vals = [s.value for s in samples]
    m = statistics.median(vals)
    return (max(vals) - min(vals)) / m * 100 if m else float("nan")


def _rss(samples):
    r = [s.rss_kb for s in samples if s.rss_kb]
    return int(statistics.median(r)) if r else None


def _lost(samples):
    worst = max(samples, key=lambda s: s.lost)
    return f"lost {worst.lost} of {worst.expected}" if worst.lost else ""


def row(case, unit, ours, anchor, anchor_name, higher_is_better=True, ceiling=None, note=""):
    """Reports one comparison. `ours`/`anchor`: lists of Sample. The ratio is m2mkit's advantage:
    ours/anchor for a rate, anchor/ours for a time or a cost."""
    o = statistics.median(s.value for s in ours)
    a = statistics.median(s.value for s in anchor)
    lost_o, lost_a = _lost(ours), _lost(anchor)
    if lost_o or lost_a:
        ratio = None
    else:
        ratio = (o / a if higher_is_better else a / o) if (a and o) else None
    r = {"case": case, "unit": unit, "m2mkit": o, "anchor": a, "anchor_name": anchor_name, "ratio": ratio,
         "spread": max(_spread(ours), _spread(anchor)), "runs": len(ours), "ceiling": ceiling,
         "rss_m2mkit": _rss(ours), "rss_anchor": _rss(anchor),
         "note": "; ".join(x for x in [f"m2mkit {lost_o}" if lost_o else "", f"anchor {lost_a}" if lost_a else "",
                                       note] if x)}
    print(format_row(r), flush=True)
    path = os.environ.get("M2MKIT_BENCH_ROWS")
    if path:
        with open(path, "a") as f:
            f.write(json.dumps(r) + "\n")
    return r


def compare(case, unit, ours, anchor, anchor_name, **kw):
    """Runs ours() and anchor() alternately and reports the row (see row())."""
    xs, ys = alternate(ours, anchor)
    return row(case, unit, xs, ys, anchor_name, **kw)


def _num(x):
    if x is None:
        return "-"
    return f"{x:,.0f}" if abs(x) >= 100 else f"{x:,.2f}"


HEADER = (f"{'case':<44} {'unit':<9} {'m2mkit':>10} {'anchor':>10} {'ratio':>6} {'spread':>7} {'ceiling':>10}"
          f" {'RSS m2mkit':>10} {'RSS anchor':>10}  anchor / note")


def format_row(r):
    # no ratio: a side lost messages, or a figure was 0 (below what was measurable)
    ratio = f"x{r['ratio']:.2f}" if r["ratio"] is not None else "loss" if "lost" in r["note"] else "-"
    rss = [f"{r[k] / 1024:,.1f} MB" if r[k] else "-" for k in ("rss_m2mkit", "rss_anchor")]
    tail = r["anchor_name"] + (f"; {r['note']}" if r["note"] else "")
    return (f"{r['case']:<44} {r['unit']:<9} {_num(r['m2mkit']):>10} {_num(r['anchor']):>10} {ratio:>6} "
            f"{r['spread']:>6.0f}% {_num(r['ceiling']):>10} {rss[0]:>10} {rss[1]:>10}  {tail}")


def print_table(path):
    print(HEADER)
    with open(path) as f:
        for line in f:
            print(format_row(json.loads(line)))
    print("ratio: m2mkit's advantage (> 1 better: rate over rate, or the anchor's time or cost over m2mkit's); "
          f"medians of {RUNS}+ alternating runs; spread: (max - min) / median, the larger side's")


# --- helpers with timeouts ------------------------------------------------------------------------

class Spawned:
    """A program run under GNU time, in a session of its own (ended with its group, by PID)."""

    def __init__(self, argv, **kw):
        import tempfile
        fd, self.rss_file = tempfile.mkstemp(prefix="m2mkit-rss-")
        os.close(fd)
        self.p = subprocess.Popen(["/usr/bin/time", "-f", "m2mkit-bench %M %U %S", "-o", self.rss_file] + list(argv),
                                  start_new_session=True, **kw)
        self.args = argv

    def wait(self, timeout):
        """Waits for its end (ends it past `timeout`, raising); returns (exit code, peak RSS kB)."""
        try:
            rc = self.p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.stop()
            raise TimeoutError(f"{self.args[0]} did not end within {timeout} s")
        return rc, self.rss()

    def stop(self, sig=15):
        """Ends the program (time's child: time then writes its figure), waits, returns peak RSS
        kB; its whole group if that does not end it."""
        try:
            with open(f"/proc/{self.p.pid}/task/{self.p.pid}/children") as f:
                for child in f.read().split():
                    os.kill(int(child), sig)
        except (FileNotFoundError, ProcessLookupError):
            pass
        try:
            self.p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(self.p.pid, 9)
            self.p.wait(timeout=30)
        return self.rss()

    def rss(self):
        """Peak RSS kB (None when time could not say)."""
        f = self._figures()
        return int(f[0]) if f else None

    def cpu(self):
        """User + system CPU seconds."""
        f = self._figures()
        return float(f[1]) + float(f[2]) if f else None

    def _figures(self):
        if not hasattr(self, "_fig"):
            self._fig = None
            if os.path.exists(self.rss_file):
                with open(self.rss_file) as f:
                    for line in f:
                        if line.startswith("m2mkit-bench "):
                            self._fig = line.split()[1:]
                if self.p.poll() is not None:
                    os.unlink(self.rss_file)
        return self._fig


def read_until(fd, done, timeout):
    """Reads fd until done(chunk) returns True or EOF; raises on the timeout."""
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("no more output within the time limit")
        r, _, _ = select.select([fd], [], [], left)
        if not r:
            continue
        chunk = os.read(fd, 1 << 20)
        if not chunk or done(chunk):
            return


def wait_line(proc, needle, timeout=10):
    """Reads proc's stderr until a line containing `needle`; returns it."""
    buf = b""
    found = []

    def done(chunk):
        nonlocal buf
        buf += chunk
        for line in buf.decode(errors="replace").splitlines():
            if needle in line:
                found.append(line)
                return True
        return False
    read_until(proc.stderr.fileno(), done, timeout)
    if not found:
        raise RuntimeError(f"no {needle!r} from {proc.args[0]}: {buf.decode(errors='replace')}")
    return found[0]


def free_port():
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


class Subscriber:
    """A mosquitto_sub that counts what arrives on `topic` as fast as the broker sends it (a thread
    reads its output), the same for both sides of a comparison. Ready when it returns: a retained
    probe it printed first shows it subscribed."""

    def __init__(self, port, topic, qos=0, probe=None, ready=None, iot_sub=None):
        """`probe`: lines that start with it are not counted, but set `probed` (a pipeline is up).
        `ready`: the topic of the retained probe (topic + "/ready" by default; give one when
        `topic` is a filter). `iot_sub`: count with this iot-sub (--format raw) instead, for rates
        past what mosquitto_sub prints (~110k/s here)."""
        import threading
        self.probe, self.probed = probe, threading.Event()
        ready = ready or topic + "/ready"
        subprocess.run(["mosquitto_pub", "-p", str(port), "-t", ready, "-m", "probe", "-r"], check=True, timeout=30)
        argv = ([iot_sub, f"mqtt://127.0.0.1:{port}", "--format", "raw", "-q", str(qos)] if iot_sub else
                ["mosquitto_sub", "-p", str(port), "-q", str(qos)])
        self.p = subprocess.Popen(argv + ["-t", topic, "-t", ready], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        self.count = 0
        self.cond = threading.Condition()
        first = []
        read_until(self.p.stdout.fileno(), lambda c: first.append(c) or True, 30)
        assert first and first[0].startswith(b"probe\n"), "mosquitto_sub did not subscribe"
        self.count = first[0].count(b"\n") - 1
        self.t = threading.Thread(target=self._drain, daemon=True)
        self.t.start()

    def _drain(self):
        for chunk in iter(lambda: self.p.stdout.read1(1 << 16), b""):
            with self.cond:
                self.count += chunk.count(b"\n")
                if self.probe and self.probe in chunk:
                    self.count -= chunk.count(b"\n" + self.probe) + chunk.startswith(self.probe)
                    self.probed.set()
                self.cond.notify_all()

    def wait_for(self, n, timeout):
        """Waits until n messages arrived or `timeout` s passed with none arriving; returns the count."""
        with self.cond:
            while self.count < n:
                before = self.count
                self.cond.wait(timeout)
                if self.count == before:
                    break
            return self.count

    def stop(self):
        self.p.terminate()  # ours, by its PID
        self.p.wait(timeout=10)


if __name__ == "__main__":
    print_table(sys.argv[1])
