"""Observability: counters on the hot path, Prometheus metrics, health and readiness over HTTP.

:mod:`.counters` (what requests count), :mod:`.timer` (latency quantiles), :mod:`.collect`
(a scrape, named as Kafka's JMX exporter names it), :mod:`.exposition` (the text format),
:mod:`.health` (``/healthz``, ``/readyz``), :mod:`.http` (the listener), :mod:`.notify`
(systemd's ``sd_notify``).
"""
