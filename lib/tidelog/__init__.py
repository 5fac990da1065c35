"""tidelog: a distributed, replicated commit log with Apache Kafka's wire protocol and disk format.

The package is layered (see man/tidelog.7): ``records`` and ``protocol`` are sans-I/O codecs,
``storage`` keeps partition logs on disk, and the programs under ``tools/`` sit on top.
"""

__version__ = "0.1.0"
