"""A real mosquitto broker on a free loopback port, started and stopped by the tests."""
import os
import signal
import socket
import subprocess
import threading
import time


def read_until(stream, marker, what, timeout=10):
    """Reads lines of a starting broker's output until one holds `marker`: (what it read, True), or
    (what it read, False) when the output ended first (the broker exited)."""
    out = b""
    deadline = time.monotonic() + timeout
    while marker not in out:
        assert time.monotonic() < deadline, f"{what} did not start: {out.decode()}"
        line = stream.readline()
        if not line:
            return out, False
        out += line
    return out, True


class LogReader:
    """Keeps reading a broker's log (so that it never blocks on a full pipe) into `log`; wait_log()
    waits until a condition on it holds."""

    def follow(self, stream, log):
        self.log = log
        self._cond = threading.Condition()
        threading.Thread(target=self._drain, args=(stream,), daemon=True).start()

    def _drain(self, stream):
        for line in stream:
            with self._cond:
                self.log += line
                self._cond.notify_all()

    def wait_log(self, holds, timeout=20):
        """Waits until holds(log text) is true; the last value it returned."""
        with self._cond:
            self._cond.wait_for(lambda: holds(self.log.decode()), timeout=timeout)
            return holds(self.log.decode())


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Broker(LogReader):
    def __init__(self, tmp_path, passwords=None, tls=None, persistence=False, websockets=False):
        self.dir = tmp_path / f"broker-{free_port()}"
        self.dir.mkdir()
        self.opts = (passwords, tls, persistence, websockets)
        self.started = False
        self._configure()
        self.proc = None

    def _configure(self):
        """Picks free ports and writes the configuration."""
        passwords, tls, persistence, websockets = self.opts
        self.port = free_port()
        self.tls_port = free_port() if tls else None
        self.ws_port = free_port() if websockets else None
        self.wss_port = free_port() if websockets and tls else None
        lines = [f"listener {self.port} 127.0.0.1",
                 "log_dest stderr", "log_type error", "log_type warning", "log_type notice", "log_type information",
                 # tests that assert no loss must not let a slow subscriber's queue overflow
                 "max_queued_messages 0", "max_queued_bytes 0"]
        if passwords:
            pw = self.dir / "passwd"
            pw.write_text("")
            for user, password in passwords.items():
                subprocess.run(["mosquitto_passwd", "-b", str(pw), user, password], check=True,
                               capture_output=True)
            lines += ["allow_anonymous false", f"password_file {pw}"]
        else:
            lines += ["allow_anonymous true"]
        if tls:
            lines += [f"listener {self.tls_port} 127.0.0.1", f"cafile {tls['ca']}", f"certfile {tls['cert']}",
                      f"keyfile {tls['key']}"]
        if websockets:
            # mosquitto 2.0's WebSocket listeners (libwebsockets) bind to an interface, not an address:
            # "lo" keeps them on loopback
            lines += [f"listener {self.ws_port} lo", "protocol websockets"]
            if tls:
                lines += [f"listener {self.wss_port} lo", "protocol websockets", f"cafile {tls['ca']}",
                          f"certfile {tls['cert']}", f"keyfile {tls['key']}"]
        if os.geteuid() == 0:
            lines += ["user root"]  # keep reading the test's private temporary files
        if persistence:
            lines += ["persistence true", f"persistence_location {self.dir}/"]
        (self.dir / "mosquitto.conf").write_text("\n".join(lines) + "\n")

    def start(self):
        # free_port() closes its socket before mosquitto binds: another process (a parallel test)
        # can take the port meanwhile. On a first start that is a retry on new ports; a restart
        # keeps its port (the clients reconnect to it).
        for attempt in range(5):
            err = self._launch()
            if err is None:
                break
            assert not self.started and b"Address already in use" in err, f"mosquitto exited: {err.decode()}"
            self._configure()
        else:
            raise AssertionError("mosquitto found no free port in 5 tries")
        self.started = True
        self.follow(self.proc.stderr, self.log)
        return self

    def _launch(self):
        """Starts mosquitto; None once its listeners are open, or what it said before it exited."""
        self.proc = subprocess.Popen(["mosquitto", "-c", str(self.dir / "mosquitto.conf")],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        # mosquitto says "running" once its listeners are open
        err, running = read_until(self.proc.stderr, b" running", "mosquitto")
        if not running:
            self.proc.wait()
            return err
        self.log = err
        return None

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(timeout=10)
        self.proc = None

    @property
    def url(self):
        return f"mqtt://127.0.0.1:{self.port}"

    @property
    def tls_url(self):
        return f"mqtts://127.0.0.1:{self.tls_port}"

    @property
    def ws_url(self):
        return f"ws://127.0.0.1:{self.ws_port}"

    @property
    def wss_url(self):
        return f"wss://127.0.0.1:{self.wss_port}"


def make_certs(d):
    """A CA, a server certificate for 127.0.0.1/localhost signed by it, and an unrelated CA."""
    d.mkdir(exist_ok=True)

    def ssl(*args):
        subprocess.run(["openssl", *args], check=True, capture_output=True, cwd=d)

    for ca in ["ca", "other-ca"]:
        ssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{ca}.key", "-out", f"{ca}.pem",
            "-days", "2", "-subj", f"/CN=m2mkit test {ca}")
    ssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr",
        "-subj", "/CN=localhost")
    (d / "san.ext").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    ssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
        "-out", "server.pem", "-days", "2", "-extfile", "san.ext")
    return {"ca": str(d / "ca.pem"), "other_ca": str(d / "other-ca.pem"), "cert": str(d / "server.pem"),
            "key": str(d / "server.key")}


AEDES = os.path.join(os.path.dirname(__file__), "..", "peers", "aedes", "node_modules", ".bin", "aedes")


class Aedes(LogReader):
    """aedes (Node.js, npm aedes-cli), the second broker: the client must not be tuned to one broker's
    habits. MQTT 3.1.1 only, no persistence. Installed by `./dev.sh peers` (the test command does it)."""

    def __init__(self, tmp_path):
        assert os.access(AEDES, os.X_OK), f"aedes is not installed ({AEDES}): run ./dev.sh peers"
        self.dir = tmp_path / f"aedes-{free_port()}"
        self.dir.mkdir()
        self.proc = None

    def start(self):
        for attempt in range(5):  # a parallel test can take the free port before aedes binds it
            self.port = free_port()
            self.proc = subprocess.Popen([AEDES, "start", "--host", "127.0.0.1", "--port", str(self.port)],
                                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
            out, listening = read_until(self.proc.stdout, b"TCP server listening", "aedes", timeout=30)
            if listening:
                self.follow(self.proc.stdout, out)
                return self
            self.proc.wait()
            assert b"EADDRINUSE" in out, f"aedes exited: {out.decode()}"
        raise AssertionError("aedes found no free port in 5 tries")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(timeout=10)
        self.proc = None

    @property
    def url(self):
        return f"mqtt://127.0.0.1:{self.port}"
