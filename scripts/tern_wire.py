"""Minimal Tern native-protocol helpers for the benchmark scripts (docs/protocol.md).

Only what the scripts need: CreateTopics (key 19, version 0) over a plain socket, so a benchmark
measures the broker and the metadata quorum rather than a CLI process's start-up.
"""
import socket
import struct


def _str16(text):
    data = text.encode()
    return struct.pack(">H", len(data)) + data


def _read_exact(sock, count):
    out = b""
    while len(out) < count:
        chunk = sock.recv(count - len(out))
        if not chunk:
            raise OSError("connection closed")
        out += chunk
    return out


def create_topics(port, names, partitions=1, replication_factor=-1, timeout_ms=30000, sock=None, correlation_id=1):
    """Sends one CreateTopics for `names`; returns [(name, errorCode, errorMessage)]."""
    own = sock is None
    if own:
        sock = socket.create_connection(("127.0.0.1", port), timeout=timeout_ms / 1000 + 5)
    try:
        body = struct.pack(">I", len(names))
        for name in names:
            body += _str16(name) + struct.pack(">ihI", partitions, replication_factor, 0)
        body += struct.pack(">i?", timeout_ms, False)
        payload = struct.pack(">HHI", 19, 0, correlation_id) + _str16("bench") + body
        sock.sendall(struct.pack(">I", len(payload)) + payload)
        size = struct.unpack(">I", _read_exact(sock, 4))[0]
        data = _read_exact(sock, size)
        pos = 4
        (code,) = struct.unpack_from(">h", data, pos); pos += 2
        (length,) = struct.unpack_from(">H", data, pos); pos += 2
        if length != 0xFFFF:
            pos += length
        if code != 0:
            return [(name, code, "request failed") for name in names]
        (count,) = struct.unpack_from(">I", data, pos); pos += 4
        results = []
        for _ in range(count):
            (length,) = struct.unpack_from(">H", data, pos); pos += 2
            name = data[pos:pos + length].decode(); pos += length
            (code,) = struct.unpack_from(">h", data, pos); pos += 2
            (length,) = struct.unpack_from(">H", data, pos); pos += 2
            message = None
            if length != 0xFFFF:
                message = data[pos:pos + length].decode(); pos += length
            results.append((name, code, message))
        return results
    finally:
        if own:
            sock.close()


def create_topic(port, name, partitions=1, timeout_ms=30000):
    """One topic; returns (errorCode, errorMessage)."""
    _, code, message = create_topics(port, [name], partitions=partitions, timeout_ms=timeout_ms)[0]
    return code, message
