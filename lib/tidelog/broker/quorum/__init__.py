"""The metadata quorum of ``logd``: Raft (:mod:`tidelog.raft`) over the ``__cluster_metadata``
log on disk. See :mod:`tidelog.broker.quorum.metadata_quorum`."""

from tidelog.broker.quorum.metadata_quorum import MetadataQuorum
from tidelog.broker.quorum.storage import DiskRaftStorage

__all__ = ["DiskRaftStorage", "MetadataQuorum"]
