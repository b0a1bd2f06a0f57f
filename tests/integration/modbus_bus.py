"""A Modbus RTU bus on a pty pair, answered by the test itself (a thread): units with holding
registers, a unit that never answers, exceptions for addresses a unit does not have. It logs every
request with the time it arrived and when its answer went out, so a test can assert how a master
used the bus: which reads, how many, and the quiet time between frames."""
import os
import struct
import threading
import time
import tty


def crc16(data):
    crc = 0xFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return struct.pack("<H", crc)


class Bus:
    def __init__(self, units):
        """units: {unit id: {address: value}}, the registers (and, by their low bit, the coils and
        discrete inputs) of each unit; a unit not listed is silent."""
        self.units = units
        self.master, self.slave = os.openpty()
        tty.setraw(self.master)
        tty.setraw(self.slave)
        self.path = os.ttyname(self.slave)
        self.log = []  # (unit, fc, addr, count, arrived, answered or None)
        self.lock = threading.Lock()
        self.running = True
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def requests(self, unit=None):
        with self.lock:
            return [e for e in self.log if unit is None or e[0] == unit]

    def _serve(self):
        buf = b""
        while self.running:
            try:
                chunk = os.read(self.master, 256)
            except OSError:
                return
            if not chunk:
                return
            buf += chunk
            while len(buf) >= 8:  # reads (fc 1-4) are 8 bytes with the CRC
                frame, buf = buf[:8], buf[8:]
                arrived = time.monotonic()
                if crc16(frame[:6]) != frame[6:]:
                    buf = b""  # out of step: wait for the master's next frame
                    break
                unit, fc, addr, count = frame[0], frame[1], *struct.unpack(">HH", frame[2:6])
                regs = self.units.get(unit)
                answered = None
                if regs is not None:
                    if fc in (3, 4) and all(a in regs for a in range(addr, addr + count)):
                        pdu = bytes([unit, fc, 2 * count]) + b"".join(struct.pack(">H", regs[a] & 0xFFFF)
                                                                      for a in range(addr, addr + count))
                    elif fc in (1, 2) and all(a in regs for a in range(addr, addr + count)):  # bit = low bit
                        bits = sum((regs[addr + i] & 1) << i for i in range(count))
                        pdu = bytes([unit, fc, (count + 7) // 8]) + bits.to_bytes((count + 7) // 8, "little")
                    else:
                        pdu = bytes([unit, fc | 0x80, 2])  # illegal data address
                    answered = time.monotonic()
                    os.write(self.master, pdu + crc16(pdu))
                with self.lock:
                    self.log.append((unit, fc, addr, count, arrived, answered))

    def close(self):
        self.running = False
        os.close(self.slave)
        os.close(self.master)
        self.thread.join(timeout=5)
