"""CoAP and HTTP endpoints (#19), side by side with the peer a user would otherwise script:
  1. CoAP NON publish rate: iot-pub --non, N messages from one process, against coap-client in a
     shell loop (one process per message, as scripts do), both PUTting to libcoap's coap-server.
  2. CoAP CON publish rate: iot-pub against the same coap-client loop with its default CON.
  3. HTTP POST rate: iot-pub --batch 100 and one request per message, against curl in a loop,
     both to python's http.server (ThreadingHTTPServer), counting what the server received.
Alternating runs, medians and spread, rows in ./dev.sh bench's table (benchlib); every wait bounded. Usage:
bench_endpoints.py TOOLS_DIR [SCALE]"""
import http.server
import socket
import os
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(__file__))
from benchlib import RUNS, Sample, row  # noqa: E402

tools = sys.argv[1]
scale = float(sys.argv[2]) if len(sys.argv) > 2 else 1.0


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def report(ours_label, ours, peer_label, theirs):
    """A row of the bench table (benchlib's rules: the runs alternated, medians and spread)."""
    row(ours_label, "msg/s", [Sample(x) for x in ours], [Sample(x) for x in theirs], peer_label)


def coap(n_tool, n_peer):
    port = free_port()
    srv = subprocess.Popen(["coap-server-openssl", "-A", "127.0.0.1", "-p", str(port), "-d", "1000"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"coap://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 10
        while subprocess.run(["coap-client-openssl", "-m", "get", "-B", "2", url + "/"],
                             capture_output=True, timeout=30).returncode != 0:
            assert time.monotonic() < deadline
        lines = "".join(f"{i} {'x' * 32}\n" for i in range(n_tool)).encode()
        for kind, extra, peer_extra in [("NON", ["--non"], ["-N"]), ("CON", [], [])]:
            ours, theirs = [], []
            for _ in range(RUNS):
                t0 = time.monotonic()
                r = subprocess.run([f"{tools}/iot-pub", f"{url}/bench", "--method", "PUT", "-l", *extra],
                                   input=lines, capture_output=True, timeout=600)
                assert r.returncode == 0, r.stderr.decode()
                ours.append(n_tool / (time.monotonic() - t0))
                t0 = time.monotonic()
                for i in range(n_peer):
                    subprocess.run(["coap-client-openssl", "-m", "put", "-B", "5", *peer_extra, "-e",
                                    f"{i} {'x' * 32}", f"{url}/bench"], check=True, capture_output=True, timeout=30)
                theirs.append(n_peer / (time.monotonic() - t0))
            report(f"CoAP {kind} PUT, iot-pub -l", ours, "coap-client in a loop", theirs)
    finally:
        srv.terminate()
        srv.wait(timeout=10)


class Counting(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    got = 0
    lock = threading.Lock()

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        n = body.count(b'","') + 1 if body.startswith(b"[") else 1
        with Counting.lock:
            Counting.got += n
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *a):
        pass


def http_rates(n_tool, n_peer):
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Counting)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{httpd.server_address[1]}/ingest"
    try:
        lines = "".join(f'{{"text":"{i} {"x" * 32}"}}\n' for i in range(n_tool)).encode()
        for label, extra in [("batches of 100", ["--batch", "100"]), ("one request per message", [])]:
            ours, theirs = [], []
            for _ in range(RUNS):
                Counting.got = 0
                t0 = time.monotonic()
                r = subprocess.run([f"{tools}/iot-pub", url, *extra], input=lines, capture_output=True, timeout=600)
                assert r.returncode == 0, r.stderr.decode()
                ours.append(n_tool / (time.monotonic() - t0))
                assert Counting.got == n_tool, (Counting.got, n_tool)  # delivered, not only sent
                Counting.got = 0
                t0 = time.monotonic()
                for i in range(n_peer):
                    subprocess.run(["curl", "-sf", "-H", "Content-Type: text/plain", "--data-binary",
                                    f"{i} {'x' * 32}", url], check=True, capture_output=True, timeout=30)
                theirs.append(n_peer / (time.monotonic() - t0))
                assert Counting.got == n_peer
            report(f"HTTP POST, iot-pub {label}", ours, "curl in a loop", theirs)
    finally:
        httpd.shutdown()
        httpd.server_close()


def main():
    coap(max(100, int(5000 * scale)), max(20, int(200 * scale)))
    http_rates(max(100, int(5000 * scale)), max(20, int(200 * scale)))


if __name__ == "__main__":
    main()
