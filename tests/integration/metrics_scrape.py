"""Helpers for tests of the metrics endpoint: find a broker's metrics port in its log, scrape
it and parse the scrape with prometheus_client's parser (which also checks the format)."""

from __future__ import annotations

import re
import urllib.error
import urllib.request

from logd_harness import Logd
from prometheus_client.parser import text_string_to_metric_families

_METRICS = re.compile(r"metrics on http://127\.0\.0\.1:(\d+)/metrics")

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def metrics_port(broker: Logd) -> int:
    found = _METRICS.findall(broker.log())
    assert found, broker.log()
    return int(found[-1])  # the last start's


def get(port: int, path: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def scrape(port: int) -> Samples:
    status, text = get(port, "/metrics")
    assert status == 200, text
    samples: Samples = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            samples[(s.name, frozenset(s.labels.items()))] = s.value
    return samples


def value(samples: Samples, name: str, **labels: object) -> float | None:
    return samples.get((name, frozenset((k, str(v)) for k, v in labels.items())))
