"""What dbtop's backup actions share on every engine, none of it tied to a driver: where the profile's
backups go, the preconditions on the backup directory and a new backup's name, sealing a finished
backup (flushed and checksummed), and a backup's metadata as the verify actions read and write it."""

from __future__ import annotations

import contextlib
import os
from datetime import datetime, timezone
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from ..engines.backups.inventory import (PARTIAL_SUFFIX, BackupInventory, BackupMetadata, InvalidMetadata, Verification,
                                         backup_checksum, metadata_path, read_metadata, write_metadata)
from .plan import Precondition


def dbtop_version() -> str:
    try:
        return version("dbtop")
    except PackageNotFoundError:
        return "unknown"


def backup_directory(session: Any) -> Path:
    """The profile's backup directory (its `backup_dir`, else dbtop's default for the profile)."""
    return BackupInventory.from_policy(session.policy, session.target.label).directory


def directory_precondition(directory: Path) -> Precondition:
    """The backup directory is writable, or can be created (its nearest existing parent is writable)."""
    existing = directory
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if existing == directory and not directory.is_dir():
        passed, detail = False, f"{directory} is not a directory: point the profile's backup_dir at one"
    elif not os.access(existing, os.W_OK | os.X_OK):
        passed, detail = False, f"{existing} is not writable by this user"
    elif existing == directory:
        passed, detail = True, f"{directory}"
    else:
        passed, detail = True, f"{directory} (will be created)"
    return Precondition(name="backup_directory", description="the backup directory is writable", passed=passed,
                        detail=detail, seen={"directory": str(directory)})


def name_preconditions(name: str, final: Path, bare: bool, suffix: str, example: str) -> list[Precondition]:
    """The backup's name is a plain file name with `suffix`, and nothing of that name (the backup, its
    `.partial`, its metadata) exists yet in the backup directory."""
    partial = final.with_name(final.name + PARTIAL_SUFFIX)
    clash = [p.name for p in (final, partial, metadata_path(final)) if p.exists() or p.is_symlink()]
    return [Precondition(name="name_valid", description=f"the backup's name is a plain file name ending in {suffix}",
                         passed=bare, detail=None if bare else f"{name!r} is not: name it like {example}"),
            Precondition(name="name_free", description=f"{name} does not exist yet", passed=not clash,
                         detail=f"{', '.join(clash)} already exists" if clash else None, seen={"file": str(final)})]


def seal_backup(path: Path) -> tuple[str, int]:
    """Flush a finished dump to disk; its SHA-256 and size."""
    with path.open("rb") as data:
        os.fsync(data.fileno())
    return backup_checksum(path), path.stat().st_size


def sync_directory(directory: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def described_backup(name: str, path: Path) -> tuple[Precondition, BackupMetadata | None]:
    """That `name` (at `path`) is a backup dbtop took, with its metadata (None when it is not)."""
    description = f"{name} is a backup dbtop took"
    try:
        if not name or "/" in name or name.startswith("."):
            raise InvalidMetadata(f"{name!r} is not the name of a backup in {path.parent}")
        meta = read_metadata(metadata_path(path))
    except InvalidMetadata as exc:
        return Precondition(name="backup", description=description, passed=False,
                            detail=f"{exc}: only backups with dbtop's metadata can be verified"), None
    return Precondition(name="backup", description=description, passed=True,
                        detail=f"{meta.database}, {meta.size_bytes} bytes, taken {meta.finished_at:%Y-%m-%d %H:%M} UTC",
                        seen={"sha256": meta.sha256, "size_bytes": meta.size_bytes}), meta


def record_verification(meta_file: Path, result: str, method: str, detail: str) -> None:
    """Write a verification into a backup's metadata (the rest of it, unknown fields too, kept)."""
    meta = read_metadata(meta_file)
    check = Verification(at=datetime.now(timezone.utc), result=result, method=method, detail=detail[:1000])
    write_metadata(meta_file, meta.model_copy(update={"verification": check}))
