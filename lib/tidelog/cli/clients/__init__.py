"""The engines of the client programs (log-produce, log-consume, log-topics).

Each program module under ``tools/`` parses options and hands a settings object to the engine
here, which talks to the brokers through :mod:`tidelog.client` inside one ``asyncio.run``.
:mod:`~tidelog.cli.clients.common` holds what they share (delimiters, key=value options, the
cluster from ``-b``, running a coroutine with Ctrl-C handling); :mod:`~tidelog.cli.clients.fmt`
renders records (``-f`` tokens, JSON lines).
"""
