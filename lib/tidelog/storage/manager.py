"""The logs of one log directory: startup, checkpoints, retention, clean shutdown.

Log dir layout (Kafka's): ``meta.properties`` (version, node.id, cluster.id, directory.id),
``recovery-point-offset-checkpoint``, ``log-start-offset-checkpoint``,
``replication-offset-checkpoint`` (high watermarks), the clean-shutdown marker
``.kafka_cleanshutdown`` and one ``<topic>-<partition>`` directory per partition log.
Directories ``*-delete`` are leftovers of deleted logs and are removed; ``*-future`` ones,
``*-stray`` ones (logs the metadata did not know, set aside by :meth:`LogManager.set_aside_log`
and kept for an operator to inspect) and plain files are ignored.

Crash behaviour: the marker is written last by :meth:`LogManager.shutdown` (after every log was
flushed and the checkpoints written) and removed by :meth:`LogManager.startup` once every log is
open, so a crash at any other moment makes the next startup recover each log from its recovery
point. A partition directory that cannot be opened is logged and skipped, never fatal. All logs
share one :class:`~tidelog.storage.handles.HandleCache`, so open descriptors stay bounded by
``max_open_files`` however many partitions there are.
"""

from __future__ import annotations

import base64
import concurrent.futures
import logging
import os
import shutil
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from tidelog.errors import TidelogError
from tidelog.storage.checkpoint import (
    PartitionMetadata,
    fsync_dir,
    read_meta_properties,
    read_offset_checkpoint,
    write_atomically,
    write_meta_properties,
    write_offset_checkpoint,
    write_partition_metadata,
)
from tidelog.storage.config import LogConfig
from tidelog.storage.errors import CheckpointError, LogDirError
from tidelog.storage.handles import HandleCache
from tidelog.storage.log import PartitionLog, RecoveryReport
from tidelog.storage.topic_partition import (
    TopicPartition,
    parse_partition_dir_name,
    partition_dir_name,
)

log = logging.getLogger("tidelog.storage.manager")

META_PROPERTIES = "meta.properties"
RECOVERY_POINT_CHECKPOINT = "recovery-point-offset-checkpoint"
LOG_START_OFFSET_CHECKPOINT = "log-start-offset-checkpoint"
REPLICATION_OFFSET_CHECKPOINT = "replication-offset-checkpoint"
CLEAN_SHUTDOWN_MARKER = ".kafka_cleanshutdown"
PARTITION_METADATA = "partition.metadata"
DELETE_SUFFIX = "-delete"
STRAY_SUFFIX = "-stray"
#: Directories in a log dir that belong to someone else: the metadata log (owned by
#: tidelog.metadata.log.MetadataLog, which shares the broker's data dir as Kafka's does).
RESERVED_DIRS = frozenset({"__cluster_metadata-0"})


def _wall_clock_ms() -> int:
    return time.time_ns() // 1_000_000


def random_uuid_base64() -> str:
    """A random UUID as Kafka prints it: base64url, no padding (22 characters)."""
    return base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")


@dataclass
class StartupReport:
    clean_shutdown: bool
    logs_loaded: int = 0
    #: (directory name, reason) of partition directories that were skipped.
    skipped: list[tuple[str, str]] = field(default_factory=list)
    #: Logs that needed recovery, with what it did.
    recovered: dict[TopicPartition, RecoveryReport] = field(default_factory=dict)
    meta_properties: dict[str, str] = field(default_factory=dict)
    created_meta_properties: bool = False


class LogManager:
    def __init__(
        self,
        log_dir: Path,
        default_config: LogConfig,
        *,
        max_open_files: int = 1024,
        clock_ms: Callable[[], int] | None = None,
        node_id: int | None = None,
        cluster_id: str | None = None,
        executor: concurrent.futures.Executor | None = None,
    ) -> None:
        self.log_dir = Path(log_dir)
        self.default_config = default_config
        self.handle_cache = HandleCache(max_open_files)
        self._clock = clock_ms or _wall_clock_ms
        self._node_id = node_id
        self._cluster_id = cluster_id
        self._executor = executor
        self._logs: dict[TopicPartition, PartitionLog] = {}
        self._pending_deletes: list[tuple[int, Path]] = []
        self.meta_properties: dict[str, str] = {}
        self._started = False

    # -- startup -----------------------------------------------------------------------------

    def startup(self) -> StartupReport:
        """Read or create meta.properties, read the checkpoints, open every partition dir."""
        try:
            self.log_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise LogDirError(f"cannot create log dir {self.log_dir}: {exc}") from exc
        if not self.log_dir.is_dir():
            raise LogDirError(f"log dir {self.log_dir} is not a directory")
        marker = self.log_dir / CLEAN_SHUTDOWN_MARKER
        clean = marker.exists()
        report = StartupReport(clean_shutdown=clean)
        report.created_meta_properties = self._load_meta_properties()
        report.meta_properties = dict(self.meta_properties)
        recovery_points = self._read_checkpoint(RECOVERY_POINT_CHECKPOINT)
        start_offsets = self._read_checkpoint(LOG_START_OFFSET_CHECKPOINT)
        high_watermarks = self._read_checkpoint(REPLICATION_OFFSET_CHECKPOINT)
        for entry in sorted(os.scandir(self.log_dir), key=lambda e: e.name):
            name = entry.name
            if not entry.is_dir(follow_symlinks=False) or name in RESERVED_DIRS:
                continue
            if name.endswith(DELETE_SUFFIX):
                log.info("removing %s left by an earlier delete", entry.path)
                shutil.rmtree(entry.path, ignore_errors=True)
                continue
            tp = parse_partition_dir_name(name)
            if tp is None:
                if not name.endswith(("-future", STRAY_SUFFIX)):
                    log.warning("skipping %s: not a partition directory", entry.path)
                    report.skipped.append((name, "not a partition directory name"))
                continue
            try:
                plog = PartitionLog.open(
                    Path(entry.path),
                    self.default_config,
                    recovery_point=recovery_points.get(tp, 0),
                    log_start_offset=start_offsets.get(tp),
                    clean_shutdown=clean,
                    clock_ms=self._clock,
                    handle_cache=self.handle_cache,
                    executor=self._executor,
                )
                if tp in high_watermarks:
                    plog.high_watermark = high_watermarks[tp]
            except (TidelogError, OSError) as exc:
                log.error("skipping partition dir %s: %s", entry.path, exc)
                report.skipped.append((name, str(exc)))
                continue
            self._logs[tp] = plog
            report.logs_loaded += 1
            rr = plog.recovery_report
            if rr.segments_recovered or rr.bytes_truncated or rr.segments_deleted:
                report.recovered[tp] = rr
        if clean:
            marker.unlink(missing_ok=True)
            fsync_dir(self.log_dir)
        self._started = True
        return report

    def _load_meta_properties(self) -> bool:
        path = self.log_dir / META_PROPERTIES
        try:
            props = read_meta_properties(path)
        except FileNotFoundError:
            props = {
                "version": "1",
                "cluster.id": self._cluster_id or random_uuid_base64(),
                "directory.id": random_uuid_base64(),
            }
            if self._node_id is not None:
                props["node.id"] = str(self._node_id)
            write_meta_properties(path, props)
            self.meta_properties = props
            return True
        except CheckpointError as exc:
            raise LogDirError(str(exc)) from exc
        if self._cluster_id is not None and props.get("cluster.id") != self._cluster_id:
            raise LogDirError(
                f"{path} has cluster.id {props.get('cluster.id')!r}, "
                f"expected {self._cluster_id!r}"
            )
        if self._node_id is not None and props.get("node.id", str(self._node_id)) != str(
            self._node_id
        ):
            raise LogDirError(
                f"{path} has node.id {props.get('node.id')!r}, expected {self._node_id}"
            )
        self.meta_properties = props
        return False

    def _read_checkpoint(self, name: str) -> dict[TopicPartition, int]:
        try:
            return read_offset_checkpoint(self.log_dir / name)
        except FileNotFoundError:
            return {}
        except CheckpointError as exc:
            # Losing a checkpoint costs a full recovery, not data: warn and go on.
            log.warning("ignoring %s", exc)
            return {}

    # -- logs --------------------------------------------------------------------------------

    def get_log(self, tp: TopicPartition) -> PartitionLog | None:
        return self._logs.get(tp)

    def logs(self) -> dict[TopicPartition, PartitionLog]:
        return dict(self._logs)

    def get_or_create_log(
        self, tp: TopicPartition, config: LogConfig | None = None, topic_id: str | None = None
    ) -> PartitionLog:
        existing = self._logs.get(tp)
        if existing is not None:
            if config is not None:
                existing.update_config(config)
            return existing
        path = self.log_dir / partition_dir_name(tp)
        created = not path.exists()
        plog = PartitionLog.open(
            path,
            config or self.default_config,
            clean_shutdown=False,
            clock_ms=self._clock,
            handle_cache=self.handle_cache,
            executor=self._executor,
        )
        if topic_id is not None:
            write_partition_metadata(path / PARTITION_METADATA, PartitionMetadata(0, topic_id))
        if created:
            fsync_dir(self.log_dir)
        self._logs[tp] = plog
        return plog

    def delete_log(self, tp: TopicPartition) -> bool:
        """Close the log and rename its dir to ``<dir>.<uuid hex>-delete``; the files go after
        file.delete.delay.ms (by :meth:`run_retention`) or at shutdown/startup."""
        plog = self._logs.pop(tp, None)
        if plog is None:
            return False
        delay = plog.config.file_delete_delay_ms
        plog.close(flush=False)
        target = plog.dir.with_name(f"{plog.dir.name}.{uuid.uuid4().hex}{DELETE_SUFFIX}")
        os.rename(plog.dir, target)
        fsync_dir(self.log_dir)
        self._pending_deletes.append((self._clock() + delay, target))
        return True

    def set_aside_log(self, tp: TopicPartition) -> Path | None:
        """Close the log and rename its dir to ``<dir>.<uuid hex>-stray`` (Kafka's name for a
        log its metadata does not know); nothing is deleted, startup skips it from then on.
        Returns the new path (None when the log is not open)."""
        plog = self._logs.pop(tp, None)
        if plog is None:
            return None
        plog.close(flush=True)
        target = plog.dir.with_name(f"{plog.dir.name}.{uuid.uuid4().hex}{STRAY_SUFFIX}")
        os.rename(plog.dir, target)
        fsync_dir(self.log_dir)
        return target

    def _remove_pending(self, force: bool = False) -> None:
        now = self._clock()
        keep = []
        for due, path in self._pending_deletes:
            if force or due <= now:
                shutil.rmtree(path, ignore_errors=True)
            else:
                keep.append((due, path))
        self._pending_deletes = keep

    # -- periodic work -----------------------------------------------------------------------

    def checkpoint(self) -> None:
        """Write the recovery point, log start offset and high watermark checkpoints."""
        recovery: dict[TopicPartition, int] = {}
        starts: dict[TopicPartition, int] = {}
        hws: dict[TopicPartition, int] = {}
        for tp, plog in self._logs.items():
            recovery[tp], start, hw = plog.checkpoint_values()
            if start is not None:
                starts[tp] = start
            if hw is not None:
                hws[tp] = hw
        write_offset_checkpoint(self.log_dir / RECOVERY_POINT_CHECKPOINT, recovery)
        write_offset_checkpoint(self.log_dir / LOG_START_OFFSET_CHECKPOINT, starts)
        write_offset_checkpoint(self.log_dir / REPLICATION_OFFSET_CHECKPOINT, hws)

    def run_retention(self) -> int:
        """Apply retention to every log; returns the number of segments deleted."""
        deleted = 0
        for tp, plog in list(self._logs.items()):
            try:
                deleted += plog.delete_old_segments()
            except (TidelogError, OSError) as exc:
                log.error("retention of %s failed: %s", tp, exc)
        self._remove_pending()
        return deleted

    def flush_due(self) -> int:
        """Flush the logs whose flush.messages / flush.ms say so; returns how many."""
        n = 0
        for plog in list(self._logs.values()):
            if plog.needs_flush():
                plog.flush()
                n += 1
        return n

    def shutdown(self) -> None:
        """Close every log (flush, trim indexes), checkpoint, then write the clean marker."""
        for plog in self._logs.values():
            plog.close()
        self.checkpoint()
        self._remove_pending(force=True)
        write_atomically(
            self.log_dir / CLEAN_SHUTDOWN_MARKER, b'{"version":0,"brokerEpoch":-1}'
        )
        self.handle_cache.close_all()
        self._logs.clear()
