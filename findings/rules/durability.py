"""Settings that put data at risk, and defaults left on a production-sized server.

fsync, full_page_writes, synchronous_commit and data checksums decide what survives a crash and
whether corruption is noticed; random_page_cost, work_mem and shared_buffers left at their
defaults are asked about, with the evidence, never asserted wrong."""

from __future__ import annotations

from collections.abc import Iterator

from ...engines.snapshot import CatalogSetting, Snapshot
from ..engine import CATALOG_ONLY, Thresholds, catalog_sections, rule
from ..model import Evidence, Finding, Severity
from ..wording import size

RELOAD = "\nSELECT pg_reload_conf();"


def _settings(snapshot: Snapshot) -> dict[str, CatalogSetting]:
    catalog = catalog_sections(snapshot, "settings")
    return catalog.settings if catalog else {}


def _is(settings: dict[str, CatalogSetting], name: str, value: str) -> bool:
    return name in settings and settings[name].setting == value


@rule
def fsync_off(snapshot: Snapshot, t: Thresholds) -> Iterator[Finding]:
    if not _is(_settings(snapshot), "fsync", "off"):
        return
    yield Finding(
        id="settings.fsync_off", rule="settings.fsync_off", area="backup", severity=Severity.CRITICAL,
        title="fsync is off: a crash or power loss can corrupt the whole cluster",
        evidence=[Evidence(subject="fsync", detail="off")],
        impact="Writes are never forced to disk: after an operating system crash or power loss the data files "
               "and WAL can be inconsistent in ways recovery cannot repair (not just the last transactions: any "
               "table, any index, the catalog).",
        fix="Turn it on. If it was turned off for speed, use synchronous_commit = off instead (loses only the "
            "last moments of commits in a crash, never consistency).",
        statement="ALTER SYSTEM SET fsync = on;" + RELOAD)


@rule
def full_page_writes_off(snapshot: Snapshot, t: Thresholds) -> Iterator[Finding]:
    if not _is(_settings(snapshot), "full_page_writes", "off"):
        return
    yield Finding(
        id="settings.full_page_writes_off", rule="settings.full_page_writes_off", area="backup", severity=Severity.HIGH,
        title="full_page_writes is off: a crash mid-write can leave torn pages",
        evidence=[Evidence(subject="full_page_writes", detail="off")],
        impact="A page half-written when power fails cannot be repaired from WAL: silent corruption, found when "
               "the page is read. Safe only on storage that guarantees atomic 8 kB writes (rare; ZFS is one).",
        fix="Turn it on unless the storage's atomic writes are documented; it costs WAL volume after checkpoints.",
        statement="ALTER SYSTEM SET full_page_writes = on;" + RELOAD)


@rule
def synchronous_commit_off(snapshot: Snapshot, t: Thresholds) -> Iterator[Finding]:
    settings = _settings(snapshot)
    if not _is(settings, "synchronous_commit", "off"):
        return
    yield Finding(
        id="settings.synchronous_commit_off", rule="settings.synchronous_commit_off", area="backup",
        severity=Severity.LOW,
        title="synchronous_commit is off server-wide: is losing the last commits in a crash acceptable?",
        evidence=[Evidence(subject="synchronous_commit", detail=f"off (set in {settings['synchronous_commit'].source})")],
        impact="A commit returns before its WAL is on disk: a crash loses up to three times wal_writer_delay of "
               "acknowledged transactions (the database stays consistent). Payments and orders should not be "
               "among them.",
        fix="Keep it on by default and turn it off only in the sessions or transactions that can afford it "
            "(SET LOCAL synchronous_commit = off).",
        statement="ALTER SYSTEM SET synchronous_commit = on;" + RELOAD)


@rule
def no_data_checksums(snapshot: Snapshot, t: Thresholds) -> Iterator[Finding]:
    if not _is(_settings(snapshot), "data_checksums", "off"):
        return
    yield Finding(
        id="settings.no_data_checksums", rule="settings.no_data_checksums", area="backup", severity=Severity.LOW,
        title="Data checksums are off: corruption by the storage goes unnoticed",
        evidence=[Evidence(subject="data_checksums", detail="off (chosen at initdb)")],
        impact="A page damaged by the disk, controller or file system is read as if valid: wrong results, and the "
               "damage spreads into backups before anyone sees it. pg_rewind also needs checksums or "
               "wal_log_hints.",
        fix="Enable them with pg_checksums --enable on the stopped cluster (time proportional to its size; do it "
            "on a standby first, then switch over), or on the next rebuild with initdb --data-checksums.",
        statement="pg_checksums --enable -D <data directory>  # the server must be stopped")


def _production_sized(snapshot: Snapshot, t: Thresholds) -> int | None:
    server = snapshot.server
    if server is None:
        return None
    measured = server.database_size_bytes or server.database_size_estimate_bytes
    return measured if measured and measured >= t.get("settings.production_db_bytes", 10 * 1024 ** 3) else None


@rule(reads=CATALOG_ONLY)
def random_page_cost_default(snapshot: Snapshot, t: Thresholds) -> Iterator[Finding]:
    catalog = catalog_sections(snapshot, "settings", "checkpoints")
    if catalog is None or catalog.checkpoints is None:
        return
    cost = catalog.settings.get("random_page_cost")
    reads, read_ms = catalog.checkpoints.blocks_read or 0, catalog.checkpoints.block_read_time_ms or 0.0
    if cost is None or (cost.number or 0) < 4 or reads < t.get("settings.io_min_reads", 100_000) or read_ms <= 0:
        return
    per_read = read_ms / reads
    if per_read >= t.get("settings.ssd_read_ms", 1.0):
        return
    yield Finding(
        id="settings.random_page_cost", rule="settings.random_page_cost", area="performance", severity=Severity.LOW,
        title=f"random_page_cost is {cost.setting} while reads take {per_read:.2f} ms on average: is this SSD storage?",
        evidence=[Evidence(subject="random_page_cost", detail=f"{cost.setting} ({cost.source})"),
                  Evidence(subject="pg_stat_database", detail=f"{reads:,} blocks read in {read_ms / 1000:,.0f} s "
                                                              f"({per_read:.2f} ms each, track_io_timing)")],
        impact="4 models spinning disks, where a random read costs four sequential ones: on SSDs the planner "
               "then prefers sequential scans and avoids index scans that would be faster.",
        fix="On SSD or well-cached storage set random_page_cost near 1.1 and compare the plans of the main "
            "queries (EXPLAIN) before and after.",
        statement="ALTER SYSTEM SET random_page_cost = 1.1;" + RELOAD)


@rule
def work_mem_default(snapshot: Snapshot, t: Thresholds) -> Iterator[Finding]:
    catalog = catalog_sections(snapshot, "settings")
    activity = snapshot.postgres.activity if snapshot.postgres else None
    if catalog is None or activity is None:
        return
    work_mem = catalog.settings.get("work_mem")
    if work_mem is None or work_mem.bytes != 4 * 1024 * 1024:
        return
    if activity.temp_bytes < t.get("settings.spill_min_bytes", 1024 ** 3):
        return
    yield Finding(
        id="settings.work_mem_default", rule="settings.work_mem_default", area="performance", severity=Severity.LOW,
        title=f"work_mem is the default 4 MB and queries wrote {size(activity.temp_bytes)} of temporary files: "
              "is it sized for this workload?",
        evidence=[Evidence(subject="work_mem", detail=f"4 MB ({work_mem.source})"),
                  Evidence(subject="pg_stat_database", detail=f"temp_bytes {size(activity.temp_bytes)} since reset")],
        impact="Sorts and hashes larger than work_mem spill to disk and run many times slower.",
        fix="Raise work_mem for the roles or queries that spill (ALTER ROLE … SET work_mem), keeping "
            "max_connections x work_mem x a few operations within RAM; the spilling statements are in "
            "performance.temp_spills when pg_stat_statements is installed.",
        statement="ALTER ROLE <reporting role> SET work_mem = '64MB';")


@rule
def shared_buffers_default(snapshot: Snapshot, t: Thresholds) -> Iterator[Finding]:
    catalog = catalog_sections(snapshot, "settings")
    size_bytes = _production_sized(snapshot, t)
    if catalog is None or size_bytes is None:
        return
    buffers = catalog.settings.get("shared_buffers")
    if buffers is None or buffers.bytes != 128 * 1024 * 1024:
        return
    yield Finding(
        id="settings.shared_buffers_default", rule="settings.shared_buffers_default", area="performance",
        severity=Severity.LOW,
        title=f"shared_buffers is the default 128 MB for a {size(size_bytes)} database: was it ever sized?",
        evidence=[Evidence(subject="shared_buffers", detail=f"128 MB ({buffers.source})"),
                  Evidence(subject="database size", detail=size(size_bytes))],
        impact="The default suits a laptop: the working set is read from the OS cache or disk over and over, "
               "and checkpoints write more.",
        fix="Set shared_buffers to about 25% of the machine's RAM (restart needed), then watch the cache hit ratio.",
        statement="ALTER SYSTEM SET shared_buffers = '<25% of RAM>';  -- takes effect at the next restart")
