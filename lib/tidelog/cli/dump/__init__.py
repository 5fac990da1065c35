"""The engine of ``log-dump-segment``: read Kafka/tidelog log-directory files offline and print
them in kafka-dump-log's line format or as JSON lines.

Modules: :mod:`.kinds` tells a file's type from its name, :mod:`.text` renders batches and
records (lines and JSON), :mod:`.segment` walks record batch files, :mod:`.indexes` dumps and
verifies offset and time indexes, :mod:`.metadata_files` dumps checkpoints and properties files,
:mod:`.dumper` dispatches one file to the right one and maps problems to exit codes.
"""
