"""A hostile MQTT 'broker' on a free loopback port: it answers CONNECT (and SUBSCRIBE) the way one
misbehaving broker or a man in the middle would, so the tests can check that every tool ends with
a clear error, never hangs, crashes or buffers without bound. One behaviour per server."""
import socket
import threading

MAX_VARINT = b"\xff\xff\xff\x7f"  # 268,435,455: the largest remaining length MQTT can say


def _varint(n):
    out = bytearray()
    while True:
        b = n % 128
        n //= 128
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _packet(first, body):
    return bytes([first]) + _varint(len(body)) + body


def _connack(v5):
    return _packet(0x20, b"\x00\x00\x00" if v5 else b"\x00\x00")


def _read_packet(conn):
    """One whole packet (first byte, body) or None at EOF."""
    head = conn.recv(1)
    if not head:
        return None
    n, mult = 0, 1
    while True:
        b = conn.recv(1)
        if not b:
            return None
        n += (b[0] & 0x7F) * mult
        mult *= 128
        if not b[0] & 0x80:
            break
    body = b""
    while len(body) < n:
        chunk = conn.recv(n - len(body))
        if not chunk:
            return None
        body += chunk
    return head[0], body


# What the server sends after the CONNECT; None: a normal CONNACK, then `after`.
BEHAVIOURS = {
    "close": "closes the connection without a word",
    "garbage": "answers CONNECT with bytes that are not MQTT",
    "silence": "accepts the connection and never answers",
    "bad_connack": "a CONNACK with a remaining length of 7",
    "huge_length": "a CONNACK, then a PUBLISH claiming 256 MiB that never comes",
    "bad_varint": "a CONNACK, then a packet whose remaining length runs past four bytes",
    "truncated": "a CONNACK, then half a PUBLISH and the connection closed",
    "unknown_id": "a CONNACK, then a PUBACK, PUBREC and SUBACK for packet ids never sent",
    "bad_utf8_topic": "a CONNACK, then a QoS 0 PUBLISH whose topic is not UTF-8",
    "reserved_type": "a CONNACK, then a packet of the reserved type 0",
}


class HostileBroker:
    def __init__(self, behaviour):
        assert behaviour in BEHAVIOURS, behaviour
        self.behaviour = behaviour
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.url = f"mqtt://127.0.0.1:{self.port}"
        self.conns = []
        self.stopping = False
        self.seen = []  # the types of the packets the client sent after the hostile bytes
        self.cond = threading.Condition()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while not self.stopping:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(conn)
            threading.Thread(target=self._one, args=(conn,), daemon=True).start()

    def _one(self, conn):
        try:
            self._talk(conn)
        except OSError:
            pass

    def _talk(self, conn):
        b = self.behaviour
        if b == "close":
            conn.close()
            return
        pkt = _read_packet(conn)
        if pkt is None or pkt[0] >> 4 != 1:
            return
        body = pkt[1]
        v5 = body[6] == 5  # protocol level after the 2+4-byte protocol name
        if b == "silence":
            while conn.recv(4096):
                pass
            return
        if b == "garbage":
            conn.sendall(b"HTTP/1.1 400 Bad Request\r\n\r\n")
            while conn.recv(4096):
                pass
            return
        if b == "bad_connack":
            conn.sendall(b"\x20\x07\x00\x00\x00\x00\x00\x00\x00")
            while conn.recv(4096):
                pass
            return
        conn.sendall(_connack(v5))
        if b == "huge_length":
            conn.sendall(b"\x30" + MAX_VARINT + b"\x00\x01t")
        elif b == "bad_varint":
            conn.sendall(b"\x30\xff\xff\xff\xff\x7f")
        elif b == "truncated":
            conn.sendall(b"\x30\x40\x00\x01t" + b"x" * 10)
            conn.shutdown(socket.SHUT_WR)
        elif b == "unknown_id":
            conn.sendall(_packet(0x40, b"\x03\xe7") + _packet(0x50, b"\x03\xe8") + _packet(0x90, b"\x03\xe9\x00"))
        elif b == "bad_utf8_topic":
            pass  # sent once the client subscribes (below); publishers get it at once too
        elif b == "reserved_type":
            conn.sendall(b"\x00\x00")
        if b == "bad_utf8_topic":
            conn.sendall(_packet(0x30, b"\x00\x03\xff\xfeA" + (b"\x00" if v5 else b"") + b"payload"))
        while True:  # answer SUBSCRIBE and PINGREQ, swallow the rest, until the client goes
            pkt = _read_packet(conn)
            if pkt is None:
                return
            kind = pkt[0] >> 4
            with self.cond:
                self.seen.append(kind)
                self.cond.notify_all()
            if kind == 8 and b == "bad_utf8_topic":
                conn.sendall(_packet(0x90, pkt[1][:2] + (b"\x00" if v5 else b"") + b"\x00"))
                conn.sendall(_packet(0x30, b"\x00\x03\xff\xfeA" + (b"\x00" if v5 else b"") + b"payload"))
            elif kind == 12:
                conn.sendall(b"\xd0\x00")

    def wait_for(self, kinds, timeout=60):
        """Waits until the client has sent packets of each of `kinds` (3 PUBLISH, 12 PINGREQ...)
        after the hostile bytes; False on timeout (a hang guard)."""
        with self.cond:
            return self.cond.wait_for(lambda: all(k in self.seen for k in kinds), timeout)

    def stop(self):
        self.stopping = True
        self.sock.close()
        for c in self.conns:
            try:
                c.close()
            except OSError:
                pass
