"""tidelog.streams: stream processing over tidelog topics, in the spirit of Kafka Streams.

Build a topology with :class:`StreamsBuilder` (sources, ``map``/``filter``/``flat_map``/
``branch``/``peek``/``to``, ``group_by`` then ``count``/``reduce``/``aggregate`` into a
:class:`KTable`, windows, stream-table and table-table joins, ``table(topic)``,
``to_stream()``), then run it with :class:`StreamsApp`::

    from tidelog.streams import STR, INT_TEXT, StreamsApp, StreamsBuilder, StreamsConfig

    b = StreamsBuilder()
    b.stream("clicks", key=STR, value=STR).group_by_key(key=STR).count("clicks-by-user") \\
        .to_stream().to("click-counts", key=STR, value=INT_TEXT)
    app = StreamsApp(b.build("click-counter"), cluster, StreamsConfig(Path("state")))
    await app.run(stop_event)

Modules, each with one job: :mod:`~tidelog.streams.dsl` (the API), :mod:`.graph` (the
operators, sans-I/O), :mod:`.topology` (sub-topologies, internal topics, co-partitioning),
:mod:`.task` (one partition of a sub-topology), :mod:`.windows`, :mod:`.serde`,
:mod:`.stores` (RocksDB through rocksdict, or memory; checkpoints), :mod:`.restore` (from the
changelog), :mod:`.guarantee` (at-least-once, the exactly-once seam) and :mod:`.runtime` (the
group member that runs the tasks).
"""

from __future__ import annotations

from tidelog.streams.dsl import KGroupedStream, KStream, KTable, StreamsBuilder, WindowedKStream
from tidelog.streams.errors import StreamsError
from tidelog.streams.runtime import StreamsApp, StreamsConfig, StreamsStats
from tidelog.streams.serde import BYTES, INT64, INT_TEXT, JSON, STR, Serde
from tidelog.streams.topology import Topology
from tidelog.streams.windows import TimeWindows, Windowed, windowed_serde

__all__ = [
    "BYTES",
    "INT64",
    "INT_TEXT",
    "JSON",
    "STR",
    "KGroupedStream",
    "KStream",
    "KTable",
    "Serde",
    "StreamsApp",
    "StreamsBuilder",
    "StreamsConfig",
    "StreamsError",
    "StreamsStats",
    "TimeWindows",
    "Topology",
    "Windowed",
    "WindowedKStream",
    "windowed_serde",
]
