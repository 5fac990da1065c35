"""One consumer-group member driven by a real Kafka client, as a child process of the group
tests: ``python group_member.py CLIENT BOOTSTRAP TOPIC GROUP`` with CLIENT one of
``confluent``, ``kafka-python``, ``aiokafka``.

It prints ``R <partition> <offset> <value>`` per record (flushed) and commits after printing
(at-least-once), so the test sees exactly what was consumed. For confluent-kafka,
the JSON object in ``GROUP_MEMBER_CONFIG`` adds or overrides settings (assignment strategy,
group.instance.id). SIGTERM closes the consumer
cleanly (it leaves the group); SIGKILL is the crash case. Client settings are the defaults
except shorter session and heartbeat intervals, so a killed member is noticed quickly.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys

SESSION_MS = 3000
HEARTBEAT_MS = 500
stopping = False


def _stop(*_: object) -> None:
    global stopping
    stopping = True


def emit(partition: int, offset: int, value: bytes | None) -> None:
    sys.stdout.write(f"R {partition} {offset} {(value or b'').decode()}\n")


def run_confluent(bootstrap: str, topic: str, group: str) -> None:
    from confluent_kafka import Consumer

    config = {"bootstrap.servers": bootstrap, "group.id": group,
              "auto.offset.reset": "earliest", "enable.auto.commit": False,
              "session.timeout.ms": SESSION_MS, "heartbeat.interval.ms": HEARTBEAT_MS}
    config.update(json.loads(os.environ.get("GROUP_MEMBER_CONFIG", "{}")))
    c = Consumer(config)
    c.subscribe([topic])
    while not stopping:
        msgs = c.consume(500, 0.2)
        got = [m for m in msgs if m.error() is None]
        for m in got:
            emit(m.partition(), m.offset(), m.value())
        sys.stdout.flush()
        if got:
            try:
                c.commit(asynchronous=False)
            except Exception as exc:  # refused during a rebalance: records come again
                print(f"commit failed: {exc}", file=sys.stderr)
    c.close()


def run_kafka_python(bootstrap: str, topic: str, group: str) -> None:
    from kafka import KafkaConsumer

    c = KafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=group,
                      auto_offset_reset="earliest", enable_auto_commit=False,
                      session_timeout_ms=SESSION_MS, heartbeat_interval_ms=HEARTBEAT_MS)
    while not stopping:
        batches = c.poll(timeout_ms=200)
        for records in batches.values():
            for m in records:
                emit(m.partition, m.offset, m.value)
        sys.stdout.flush()
        if batches:
            try:
                c.commit()
            except Exception as exc:
                print(f"commit failed: {exc}", file=sys.stderr)
    c.close()


def run_aiokafka(bootstrap: str, topic: str, group: str) -> None:
    from aiokafka import AIOKafkaConsumer

    async def main() -> None:
        c = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=group,
                             auto_offset_reset="earliest", enable_auto_commit=False,
                             session_timeout_ms=SESSION_MS, heartbeat_interval_ms=HEARTBEAT_MS)
        await c.start()
        try:
            while not stopping:
                batches = await c.getmany(timeout_ms=200)
                for records in batches.values():
                    for m in records:
                        emit(m.partition, m.offset, m.value)
                sys.stdout.flush()
                if batches:
                    try:
                        await c.commit()
                    except Exception as exc:
                        print(f"commit failed: {exc}", file=sys.stderr)
        finally:
            await c.stop()

    asyncio.run(main())


RUNNERS = {"confluent": run_confluent, "kafka-python": run_kafka_python,
           "aiokafka": run_aiokafka}

if __name__ == "__main__":
    signal.signal(signal.SIGTERM, _stop)
    kind, bootstrap, topic, group = sys.argv[1:5]
    RUNNERS[kind](bootstrap, topic, group)
