"""Cluster metadata: the records of the ``__cluster_metadata`` log and the image they build.

``records`` defines the record types and their encoding (Kafka's binary records, built by
``frames`` from the schemas in :mod:`tidelog.protocol.messages.kraft`; the JSON form of
earlier versions is read for conversion), ``image`` replays them into an
immutable :class:`~tidelog.metadata.image.MetadataImage`, ``controller_ops`` turns admin
requests into records, and ``log`` stores them in a local partition log (the one-voter stand-in
for the Raft quorum of a later issue).
"""
