#!/usr/bin/env python3
"""Another connection's request latency while connections send gzip bombs.

Starts the given ternd on a free loopback port with a temporary data directory, then runs
ATTACKERS connections that each send, back to back, a produce holding one ~65 KB gzip batch
that inflates past the broker's 64 MiB bound (refused as INVALID_RECORD), while one more
connection sends ApiVersions, Metadata and a small uncompressed Produce in turn and times each
round trip. Prints the victim's p50/p99/max and the bombs refused, then stops ternd.

    swift build -c release --product ternd --scratch-path .build-release
    python3 scripts/bench-gzip-bombs.py --ternd .build-release/release/ternd

Standard library only (socket, struct, zlib, threading).
"""

import argparse
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import zlib

# CRC-32C (Castagnoli), reflected polynomial 0x82F63B78, table-driven.
_TABLE = []
for _n in range(256):
    _c = _n
    for _ in range(8):
        _c = (_c >> 1) ^ 0x82F63B78 if _c & 1 else _c >> 1
    _TABLE.append(_c)


def crc32c(data):
    crc = 0xFFFFFFFF
    table = _TABLE
    for byte in data:
        crc = table[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def varint(value):
    """A zigzag varint, as record fields are encoded."""
    value = (value << 1) ^ (value >> 63)
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def batch(records, record_count, attributes, timestamp):
    """A record batch v2 around `records` (already encoded, maybe compressed)."""
    after_crc = struct.pack(">hiqqqhii", attributes, record_count - 1, timestamp, timestamp, -1, -1, -1, record_count)
    after_crc += records
    length = 4 + 1 + 4 + len(after_crc)  # partitionLeaderEpoch, magic, crc, then the rest
    return struct.pack(">qiibI", 0, length, -1, 2, crc32c(after_crc)) + after_crc


def record(value):
    body = b"\x00" + varint(0) + varint(0) + varint(-1) + varint(len(value)) + value + varint(0)
    return varint(len(body)) + body


def string(text):
    data = text.encode()
    return struct.pack(">H", len(data)) + data


def request(api_key, correlation_id, body):
    payload = struct.pack(">HHI", api_key, 0, correlation_id) + string("bench") + body
    return struct.pack(">I", len(payload)) + payload


def produce(topic, records):
    body = struct.pack(">hi", 1, 30000) + struct.pack(">I", 1) + string(topic)
    body += struct.pack(">I", 1) + struct.pack(">i", 0) + struct.pack(">i", len(records)) + records
    return request(0, 1, body)


def read_frame(sock):
    def exactly(count):
        data = bytearray()
        while len(data) < count:
            chunk = sock.recv(count - len(data))
            if not chunk:
                raise ConnectionError("broker closed the connection")
            data += chunk
        return bytes(data)

    (size,) = struct.unpack(">I", exactly(4))
    return exactly(size)


def produce_error(payload):
    """The first partition's error code of a produce response (after the top-level status)."""
    offset = 4
    (code,) = struct.unpack_from(">h", payload, offset)
    if code != 0:
        return code
    offset += 2
    (length,) = struct.unpack_from(">H", payload, offset)
    offset += 2 + (0 if length == 0xFFFF else length)
    offset += 4  # topic count
    (length,) = struct.unpack_from(">H", payload, offset)
    offset += 2 + length + 4 + 4  # name, partition count, partition
    (code,) = struct.unpack_from(">h", payload, offset)
    return code


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def connect(port):
    sock = socket.create_connection(("127.0.0.1", port), timeout=120)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--ternd", required=True, help="path of the ternd to measure")
    parser.add_argument("--attackers", type=int, default=4)
    parser.add_argument("--requests", type=int, default=300, help="victim requests to time")
    args = parser.parse_args()

    port, admin = free_port(), free_port()
    data = tempfile.mkdtemp(prefix="tern-bombs-")
    broker = subprocess.Popen(
        [args.ternd, "--set", f"listeners=PLAINTEXT://127.0.0.1:{port}", "--set", f"log.dirs={data}/data",
         "--set", f"admin.listeners=127.0.0.1:{admin}", "--set", "log.level=error"],
        stdout=subprocess.DEVNULL)
    try:
        deadline = time.time() + 20
        while True:
            try:
                setup = connect(port)
                break
            except OSError:
                if time.time() > deadline or broker.poll() is not None:
                    sys.exit("ternd did not start")
                time.sleep(0.05)
        topics = struct.pack(">I", 2)
        for name in ("bombs", "plain"):
            topics += string(name) + struct.pack(">ihI", 1, 1, 0)
        setup.sendall(request(19, 1, topics + struct.pack(">i?", 30000, False)))
        read_frame(setup)

        inflated = bytes(64 * 1024 * 1024 + 1)
        bomb = produce("bombs", batch(_gzip(inflated), 1, 1, int(time.time() * 1000)))
        plain = produce("plain", batch(record(b"x" * 100), 1, 0, int(time.time() * 1000)))

        started = time.perf_counter()
        setup.sendall(bomb)
        alone_error = produce_error(read_frame(setup))
        alone = time.perf_counter() - started

        stop = threading.Event()
        refused = [0]
        wrong = []
        lock = threading.Lock()

        def attack():
            sock = connect(port)
            while not stop.is_set():
                sock.sendall(bomb)
                code = produce_error(read_frame(sock))
                with lock:
                    if code == 87:  # INVALID_RECORD
                        refused[0] += 1
                    else:
                        wrong.append(code)
            sock.close()

        threads = [threading.Thread(target=attack) for _ in range(args.attackers)]
        for thread in threads:
            thread.start()
        time.sleep(max(1.0, 2 * alone))  # let every attacker have a bomb in the broker

        victim = connect(port)
        requests = [request(18, 2, b""), request(3, 3, struct.pack(">?I", False, 1) + string("plain") + b"\x00"), plain]
        latencies = []
        refused_before = refused[0]
        for i in range(args.requests):
            begin = time.perf_counter()
            victim.sendall(requests[i % 3])
            read_frame(victim)
            latencies.append(time.perf_counter() - begin)
            time.sleep(0.01)
        during = refused[0] - refused_before
        stop.set()
        for thread in threads:
            thread.join()

        latencies.sort()
        ms = lambda seconds: f"{seconds * 1000:.1f} ms"
        print(f"one bomb alone: {ms(alone)} (error code {alone_error})")
        print(f"victim, {len(latencies)} requests (ApiVersions/Metadata/Produce) with {args.attackers} bombing connections:")
        print(f"  p50 {ms(latencies[len(latencies) // 2])}  p99 {ms(latencies[int(len(latencies) * 0.99)])}"
              f"  max {ms(latencies[-1])}")
        print(f"bombs refused while measuring: {during}; answered with another code: {len(wrong)}")
    finally:
        broker.send_signal(signal.SIGTERM)
        try:
            broker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            broker.kill()
        shutil.rmtree(data, ignore_errors=True)


def _gzip(data):
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)
    return compressor.compress(data) + compressor.flush()


if __name__ == "__main__":
    main()
