"""A websocket client on the standard library alone (RFC 6455), run inside the test container, whose image has no
websocket package: the handshake through the proxy, then each message sent and its answer read. Prints JSON.

    python3 ws_client.py URL HOST ORIGIN     (ORIGIN "-": none sent)
"""

import base64
import hashlib
import json
import os
import socket
import struct
import sys
from urllib.parse import urlsplit

GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"  # RFC 6455, section 1.3
TEXT, BINARY, CLOSE, PING, PONG = 0x1, 0x2, 0x8, 0x9, 0xA
# The messages: short text, non-ASCII text, every byte value, and a text whose length needs 16 bits.
MESSAGES = [(TEXT, b"hello"), (TEXT, "é ü 研究".encode()), (BINARY, bytes(range(256))), (TEXT, b"x" * 60000)]


class Connection:
    def __init__(self, sock: socket.socket, buffered: bytes):
        self.sock, self.buffer = sock, buffered

    def read(self, size: int) -> bytes:
        while len(self.buffer) < size:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError(f"closed with {len(self.buffer)} of {size} bytes read")
            self.buffer += chunk
        data, self.buffer = self.buffer[:size], self.buffer[size:]
        return data

    def send(self, opcode: int, payload: bytes) -> None:
        """One final frame, masked (a client must mask)."""
        mask = os.urandom(4)
        size = len(payload)
        if size < 126:
            head = struct.pack("!BB", 0x80 | opcode, 0x80 | size)
        elif size < 1 << 16:
            head = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, size)
        else:
            head = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, size)
        self.sock.sendall(head + mask + bytes(byte ^ mask[index % 4] for index, byte in enumerate(payload)))

    def receive(self) -> tuple[int, bytes]:
        """The next data or close frame (a ping is answered and skipped)."""
        while True:
            first, second = self.read(2)
            size = second & 0x7F
            if size == 126:
                size = struct.unpack("!H", self.read(2))[0]
            elif size == 127:
                size = struct.unpack("!Q", self.read(8))[0]
            mask = self.read(4) if second & 0x80 else b"\0\0\0\0"
            payload = bytes(byte ^ mask[index % 4] for index, byte in enumerate(self.read(size)))
            opcode = first & 0x0F
            if opcode == PING:
                self.send(PONG, payload)
                continue
            return opcode, payload


def main(url: str, host: str, origin: str) -> dict:
    parts = urlsplit(url)
    sock = socket.create_connection((parts.hostname, parts.port or 80), timeout=10)
    key = base64.b64encode(os.urandom(16)).decode()
    request = [f"GET {parts.path} HTTP/1.1", f"Host: {host}", "Upgrade: websocket", "Connection: Upgrade",
               f"Sec-WebSocket-Key: {key}", "Sec-WebSocket-Version: 13"]  # fmt: skip
    if origin != "-":
        request.append(f"Origin: {origin}")
    sock.sendall(("\r\n".join(request) + "\r\n\r\n").encode())
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = sock.recv(4096)
        if not chunk:
            break
        head += chunk
    header, _, rest = head.partition(b"\r\n\r\n")
    status_line, *lines = header.decode("latin-1").split("\r\n")
    headers = {name.strip().lower(): value.strip() for name, _, value in (line.partition(":") for line in lines)}
    accept = base64.b64encode(hashlib.sha1((key + GUID).encode()).digest()).decode()  # the protocol's
    result = {"status": int(status_line.split()[1]), "accept_ok": headers.get("sec-websocket-accept") == accept,
              "upgrade": headers.get("upgrade", ""), "echoed": [], "sent": len(MESSAGES)}  # fmt: skip
    if result["status"] != 101:
        return result
    connection = Connection(sock, rest)
    for opcode, payload in MESSAGES:
        connection.send(opcode, payload)
        answer = connection.receive()
        result["echoed"].append(answer == (opcode, payload))
    connection.send(CLOSE, struct.pack("!H", 1000))
    opcode, payload = connection.receive()
    result["close"] = struct.unpack("!H", payload[:2])[0] if opcode == CLOSE and payload else None
    sock.close()
    return result


if __name__ == "__main__":
    print(json.dumps(main(*sys.argv[1:4])))
