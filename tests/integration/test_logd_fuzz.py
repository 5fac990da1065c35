"""Fuzz: mutated valid requests and random bytes from many connections at once. logd must stay
up, keep answering a well-formed client, and leave logs whose every batch is valid (checked
with log-dump-segment after a clean shutdown). Seeded, so a failure replays."""

from __future__ import annotations

import contextlib
import random
import socket
import struct
import subprocess
import sys
import threading
from pathlib import Path

from kafka_wire import WireClient, batch, fetch_body, produce_body, values_of
from logd_harness import ROOT, Logd
from tidelog.protocol import ApiKey, RequestHeader, encode_request, join_parts

K = ApiKey
SEED = 20261127
CONNECTIONS = 16
MESSAGES_PER_CONNECTION = 60


def _valid_frames() -> list[bytes]:
    bodies = [
        (K.API_VERSIONS, 3, {"client_software_name": "f", "client_software_version": "1"}),
        (K.METADATA, 9, {"topics": [{"name": "fuzz"}]}),
        (K.PRODUCE, 7, produce_body("fuzz", batch([b"a" * 20, b"b"]))),
        (K.PRODUCE, 9, produce_body("fuzz", batch([b"c"]))),
        (K.FETCH, 11, fetch_body("fuzz", 0)),
        (K.FETCH, 12, fetch_body("fuzz", 0)),
        (K.LIST_OFFSETS, 5, {"replica_id": -1, "topics": [
            {"name": "fuzz", "partitions": [{"partition_index": 0, "timestamp": -1}]}]}),
        (K.CREATE_TOPICS, 5, {"topics": [{"name": "fuzz-c", "num_partitions": 1,
                                          "replication_factor": 1}]}),
        (K.DESCRIBE_CONFIGS, 4, {"resources": [
            {"resource_type": 2, "resource_name": "fuzz", "configuration_keys": None}]}),
    ]
    frames = []
    for key, version, body in bodies:
        payload = join_parts(encode_request(RequestHeader(key, version, 1, "fuzz"), body))
        frames.append(payload)
    return frames


def _mutate(rng: random.Random, payload: bytes) -> bytes:
    data = bytearray(payload)
    kind = rng.randrange(4)
    if kind == 0 and data:
        for _ in range(rng.randint(1, 4)):
            data[rng.randrange(len(data))] = rng.randrange(256)
    elif kind == 1:
        data = data[: rng.randrange(len(data) + 1)]
    elif kind == 2:
        pos = rng.randrange(len(data) + 1)
        data[pos:pos] = rng.randbytes(rng.randint(1, 16))
    else:
        # A length or count field blown up: four 0xff bytes somewhere.
        pos = rng.randrange(max(1, len(data) - 4))
        data[pos:pos + 4] = b"\x7f\xff\xff\xff"
    framed = struct.pack(">i", len(data)) + bytes(data)
    if rng.random() < 0.1:
        framed = struct.pack(">i", rng.randint(-(2**31), 2**31 - 1)) + bytes(data)
    return framed


def _hammer(bootstrap: str, seed: int, frames: list[bytes]) -> None:
    rng = random.Random(seed)
    host, port = bootstrap.split(":")
    sock = None
    for _ in range(MESSAGES_PER_CONNECTION):
        if sock is None:
            sock = socket.create_connection((host, int(port)), timeout=2)
        try:
            if rng.random() < 0.2:
                sock.sendall(rng.randbytes(rng.randint(1, 200)))
            else:
                sock.sendall(_mutate(rng, rng.choice(frames)))
            if rng.random() < 0.3:
                sock.settimeout(0.05)
                with contextlib.suppress(TimeoutError, OSError):
                    sock.recv(65536)
                sock.settimeout(2)
        except OSError:
            sock.close()
            sock = None  # closed by the broker, as it should be for garbage: reconnect
    if sock is not None:
        sock.close()


def test_fuzzed_connections_leave_logd_serving_and_logs_valid(tmp_path: Path) -> None:
    broker = Logd(tmp_path).start()
    try:
        frames = _valid_frames()
        with WireClient(broker.bootstrap) as c:
            c.request(K.METADATA, 9, {"topics": [{"name": "fuzz"}]})
        threads = [
            threading.Thread(target=_hammer, args=(broker.bootstrap, SEED + i, frames))
            for i in range(CONNECTIONS)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert broker.running, broker.log()
        with WireClient(broker.bootstrap) as c:
            res = c.request(K.PRODUCE, 7, produce_body("fuzz", batch([b"after"])))
            p = res.responses[0].partition_responses[0]
            assert p.error_code == 0
            fetched = c.request(K.FETCH, 11, fetch_body("fuzz", p.base_offset))
            assert values_of(fetched.responses[0].partitions[0].records) == [b"after"]
        assert broker.stop() == 0, broker.log()
        assert "Traceback" not in broker.log(), broker.log()
    finally:
        broker.kill()
    segments = sorted(str(p) for p in broker.data_dir.glob("*/*.log"))
    assert segments
    dump = subprocess.run(
        [sys.executable, "-m", "tidelog.tools.log_dump_segment", *segments],
        cwd=ROOT, capture_output=True, text=True, timeout=60, check=False,
    )
    assert dump.returncode == 0, dump.stderr
    assert "isvalid: false" not in dump.stdout
