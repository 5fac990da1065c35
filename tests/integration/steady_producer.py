"""A producer that keeps writing numbered records in a thread while a test moves the cluster
underneath it: librdkafka's defaults (acks=all) with idempotence, as an operator's producer
would run; it remembers what was acknowledged and every delivery error."""

from __future__ import annotations

import threading
from types import TracebackType

from confluent_kafka import KafkaError, Producer


class SteadyProducer:
    """``with SteadyProducer(bootstrap, topic) as p:`` ... ``p.acked``, ``p.errors``."""

    def __init__(self, bootstrap: str, topic: str, pause: float = 0.001) -> None:
        self.bootstrap = bootstrap
        self.topic = topic
        self.pause = pause
        self.acked: list[int] = []
        self.errors: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._flushed = False

    def _delivered(self, err: KafkaError | None, msg: object) -> None:
        if err is None:
            self.acked.append(int(msg.value()))  # type: ignore[attr-defined]
        else:
            self.errors.append(str(err))

    def _run(self) -> None:
        p = Producer({"bootstrap.servers": self.bootstrap, "enable.idempotence": True,
                      "linger.ms": 5})
        i = 0
        while not self._stop.is_set():
            p.produce(self.topic, str(i).encode(), on_delivery=self._delivered)
            p.poll(self.pause if i % 50 else 0.02)
            i += 1
        self._flushed = p.flush(120) == 0

    def __enter__(self) -> SteadyProducer:
        self._thread.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._stop.set()
        self._thread.join(150)
        if kind is None:
            assert self._flushed, "the producer did not flush everything it was given"
