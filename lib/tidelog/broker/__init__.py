"""The server inside ``logd``: a single-node Kafka-compatible broker on asyncio.

Modules: ``config`` (settings: defaults < TOML < ``TIDELOG_*`` < flags), ``core`` (the state:
logs, metadata log and image, producer state, fetch waits, durability), ``producer_state``
(idempotent producers, pure), ``handlers`` (one module per API family and the dispatch table),
``dispatch`` (frame -> response parts, errors -> fallback answers), ``regions`` (record bytes
sent with sendfile), ``connection`` (one client: bounded in-flight requests, answers in order),
``server`` (listener, connection limit, draining), ``daemon`` (the process: logging, signals,
periodic work, clean shutdown).
"""
