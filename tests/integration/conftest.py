"""Helpers for tests that drive the built m2mkit binaries as a user would."""
import json
import os
import select
import subprocess
import time

import pytest

BIN = os.environ.get("M2MKIT_BIN", os.path.join(os.path.dirname(__file__), "../../build/tools"))


def tool(name):
    return os.path.join(BIN, name)


def run(name, *args, input=None, timeout=60, env=None):
    """Runs a tool to completion; returns the CompletedProcess (bytes)."""
    if isinstance(input, str):
        input = input.encode()
    full_env = dict(os.environ, **(env or {}))
    stdin = subprocess.DEVNULL if input is None else None  # never the test runner's own stdin
    return subprocess.run([tool(name), *args], input=input, stdin=stdin, capture_output=True, timeout=timeout,
                          env=full_env)


def records(stdout):
    return [json.loads(line) for line in stdout.decode().splitlines() if line.strip()]


def stats_of(stderr):
    """The --stats object a tool printed on stderr."""
    for line in stderr.decode().splitlines():
        if ": stats: " in line:
            return json.loads(line.split(": stats: ", 1)[1])
    raise AssertionError(f"no stats line in stderr:\n{stderr.decode()}")


class Proc:
    """A tool running in the background, with stderr read line by line as it comes."""

    def __init__(self, name, *args, stdin=subprocess.DEVNULL):
        self.p = subprocess.Popen([tool(name), *args], stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.err = b""
        self.out = b""

    def wait_stderr(self, needle, timeout=10, count=1):
        """Waits until stderr contains `needle` (the process told us it is ready), `count` times."""
        deadline = time.monotonic() + timeout
        while self.err.count(needle.encode()) < count:
            left = deadline - time.monotonic()
            assert left > 0, f"timed out waiting for {needle!r}; stderr so far: {self.err.decode()}"
            r, _, _ = select.select([self.p.stderr], [], [], left)
            if r:
                chunk = os.read(self.p.stderr.fileno(), 65536)
                assert chunk, f"process ended before {needle!r}; stderr: {self.err.decode()}"
                self.err += chunk

    def read_until(self, done, timeout=30):
        """Reads stdout until done(bytes_so_far) is true."""
        deadline = time.monotonic() + timeout
        while not done(self.out):
            left = deadline - time.monotonic()
            assert left > 0, f"timed out; got {len(self.out)} bytes; stderr: {self.err.decode()}"
            r, _, _ = select.select([self.p.stdout, self.p.stderr], [], [], left)
            for f in r:
                chunk = os.read(f.fileno(), 1 << 20)
                if f is self.p.stdout:
                    assert chunk, f"stdout closed early; stderr: {self.err.decode()}"
                    self.out += chunk
                else:
                    self.err += chunk

    def finish(self, timeout=60):
        """Waits for exit; returns (code, stdout, stderr) with everything read."""
        out, err = self.p.communicate(timeout=timeout)
        self.out += out
        self.err += err
        return self.p.returncode, self.out, self.err

    def interrupt(self):
        self.p.send_signal(2)
        return self.finish()

    def kill(self):
        if self.p.poll() is None:
            self.p.kill()
            self.p.wait()


@pytest.fixture
def procs():
    """Processes a test started; any still running at the end are ended, by their PID."""
    started = []

    def start(name, *args, **kw):
        p = Proc(name, *args, **kw)
        started.append(p)
        return p

    yield start
    for p in started:
        p.kill()


def as_file(tmp_path, text, name="input.jsonl"):
    """`text` in a file opened for reading: a tool's stdin that never blocks the test."""
    path = tmp_path / name
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    return open(path, "rb")
