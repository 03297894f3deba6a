"""The prune-backups action: deletes what the retention policy marks in the profile's backup
directory (engines.backups.inventory.apply_retention: dbtop's own backups past the retention
window, beyond the newest `retention_keep` good ones of their database and never the newest verified
one; incomplete `.partial` files older than a day). Foreign files and pgBackRest's backups are never
candidates. The plan lists every file it deletes (a backup and its metadata file) and the newest
verified backup that remains; the run deletes exactly those, with `rm`.

Risk: destructive; the operator types the profile's name (or the target's, without a profile).
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ..engines.backups.inventory import METADATA_SUFFIX, build_backups, metadata_path, scan_backup_directory
from ..engines.errors import ActionFailed
from ..engines.postgres.dump import run_client
from .backup_files import backup_directory
from .plan import Plan, Precondition, Progress, ProgressUpdate

RM = ("rm", "-r", "--")


def prune_paths(directory: Path, policy: Any, now: datetime) -> tuple[list[Path], str]:
    """The files the retention policy deletes in `directory`, and the newest verified backup kept
    (said in words). A dbtop backup goes with its metadata file."""
    entries, error = scan_backup_directory(directory, now=now)
    if error and not entries:
        raise ActionFailed(f"nothing can be pruned: {error}", error)
    backups = build_backups(directory=directory, directory_error=error, entries=entries, rpo_s=policy.rpo_s,
                            retention_s=policy.retention_s, keep=policy.retention_keep, now=now)
    paths: list[Path] = []
    for entry in backups.entries:
        if not entry.prune or entry.origin != "dbtop" or entry.path is None:
            continue
        path = Path(entry.path)
        if path.parent != directory:  # the scan names files beside it only; never follow anything else
            continue
        if path.exists() or path.is_symlink():
            paths.append(path)
        meta = metadata_path(path)
        if entry.status != "partial" and (meta.exists() or meta.is_symlink()):
            paths.append(meta)
    kept = next((e for e in backups.entries if e.status == "verified" and not e.prune), None)
    remains = (f"{kept.name} ({kept.database}, verified {kept.verified_at:%Y-%m-%d %H:%M} UTC)" if kept
               and kept.verified_at else "none: no verified backup remains (none is verified now)")
    return paths, remains


class PruneBackups:
    name = "prune-backups"
    engines = frozenset({"postgres", "mongo"})  # files in the backup directory: the same on every engine

    async def plan(self, session: Any, **params: Any) -> Plan:
        now = datetime.now(timezone.utc)
        directory = backup_directory(session)
        policy = session.policy
        paths, remains = prune_paths(directory, policy, now)
        backups = [p for p in paths if not p.name.endswith(METADATA_SUFFIX)]
        days = policy.retention_s / 86400
        return Plan(
            action=self.name, target=session.target,
            summary=(f"delete {len(backups)} backup(s) past the {days:g}-day retention in {directory}; "
                     f"the newest verified backup kept: {remains}"),
            command=(*RM, *(str(p) for p in paths)),
            preconditions=(Precondition(
                name="something_to_prune", description="the retention policy marks backups to delete",
                passed=bool(paths), detail=f"{len(paths)} file(s)" if paths else "none: nothing to prune",
                seen={"files": len(paths)}),),
            risk="destructive",
            warnings=(f"keeps every backup younger than {days:g} days and the newest {policy.retention_keep} good "
                      "ones of each database; never touches foreign files or pgBackRest's backups",
                      f"the newest verified backup that remains: {remains}"),
            confirm_text=session.target.profile or session.target.label, planned_at=now)

    async def run(self, session: Any, plan: Plan, progress: Progress | None) -> str:
        files = len(plan.command) - len(RM)
        if progress:
            progress(ProgressUpdate(phase="deleting", done=0, total=files, unit="files"))
        finished, _ = await run_client(list(plan.command), {"PATH": "/usr/bin:/bin"})
        if not finished.ok:
            raise ActionFailed(f"pruning stopped: {finished.reason('rm')}; plan again to see what is left",
                               finished.reason("rm"))
        if progress:
            progress(ProgressUpdate(phase="deleted", done=files, total=files, unit="files"))
        return f"deleted {files} file(s): " + ", ".join(Path(p).name for p in plan.command[len(RM):])
PRUNE_BACKUPS = PruneBackups()
