"""How dbtop runs pgBackRest for a profile, and what it reads back besides `info` (which
inventory.py parses): the output of `verify`, the repository's path (for a backup's progress), and
the verifications dbtop journaled.

pgBackRest must run as the OS user that owns its repository and runs PostgreSQL: run as another
user, `backup` connects as that user's database role and fails, and files it creates in the
repository, log or lock directories break the `archive-push` PostgreSQL runs later. A profile's
`pgbackrest_user` says who that is; dbtop runs pgBackRest through `runuser` when it runs as root,
through `sudo -n` otherwise (never asking for a password), and directly when it already is that user.

What "verified" means for a pgBackRest backup: a `pgbackrest verify` that dbtop ran (journaled,
outcome done) read every file of it in the repository and found each one's checksum and size as the
backup's manifest records them, and the WAL archive's segments intact. It proves the repository
holds the backup as it was taken; it is not a test restore. pgBackRest 2.45's `verify` exits 0 even
when it finds an invalid backup (and prints nothing unless asked), so dbtop reads its text output
(`--output=text --verbose`), never the exit status alone.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import re
import shutil
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from ...actions.journal import Journal, JournalEntry
from ..policy import WatchPolicy
from ..snapshot import BackupEntry

DEFAULT_CONFIGS = ("/etc/pgbackrest/pgbackrest.conf", "/etc/pgbackrest.conf")
DEFAULT_REPO_PATH = "/var/lib/pgbackrest"
VERIFY_ACTION = "pgbackrest-verify"
BACKUP_ACTION = "pgbackrest-backup"
VERIFIED_BY = "pgbackrest verify through dbtop: every file's checksum and size as its manifest records"


def current_os_user() -> str | None:
    try:
        return pwd.getpwuid(os.geteuid()).pw_name
    except KeyError:
        return None


def as_user(user: str | None) -> list[str]:
    """The argv prefix that runs a command as `user`: none when dbtop already is that user (or no
    user is named), `runuser` as root, else `sudo -n` (fails rather than asks for a password)."""
    if user is None or user == current_os_user():
        return []
    if os.geteuid() == 0:
        return ["runuser", "-u", user, "--"]
    return ["sudo", "-n", "-u", user, "--"]


@dataclass(frozen=True)
class PgBackRestCommand:
    """pgBackRest as one profile runs it: its stanza (None: every stanza the configuration lists),
    its configuration file (None: pgBackRest's default) and the OS user it runs as."""

    stanza: str | None = None
    config: str | None = None
    user: str | None = None
    executable: str = "pgbackrest"

    @classmethod
    def from_policy(cls, policy: WatchPolicy) -> PgBackRestCommand:
        return cls(stanza=policy.pgbackrest_stanza, config=policy.pgbackrest_config, user=policy.pgbackrest_user)

    def found(self) -> str | None:
        """The executable's path, or None when it is not installed."""
        return shutil.which(self.executable)

    def argv(self, *args: str, executable: str | None = None) -> list[str]:
        """The command line, e.g. `argv("--output=json", "info")`: options the profile fixes first."""
        fixed = ([f"--config={os.path.expanduser(self.config)}"] if self.config else []) + (
            [f"--stanza={self.stanza}"] if self.stanza else [])
        return [*as_user(self.user), executable or self.executable, *fixed, *args]

    def config_path(self) -> Path | None:
        if self.config:
            return Path(os.path.expanduser(self.config))
        return next((Path(p) for p in DEFAULT_CONFIGS if Path(p).is_file()), None)


# -- the repository's path --------------------------------------------------------------------------

def repository_path(config_text: str, stanza: str | None) -> Path | None:
    """repo1's path as `config_text` sets it for `stanza` (its own section over [global], a
    `:backup` section over the plain one); None when repo1 is not on a local file system."""
    sections: dict[str, dict[str, str]] = {}
    section = ""
    for raw in config_text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1].strip()
        elif "=" in line:
            key, _, value = line.partition("=")
            sections.setdefault(section, {})[key.strip()] = value.split(";", 1)[0].strip()
    order = ["global", "global:backup"] + ([stanza, f"{stanza}:backup"] if stanza else [])
    values: dict[str, str] = {}
    for name in order:
        values.update(sections.get(name, {}))
    if values.get("repo1-type", "posix") not in ("posix", "cifs"):
        return None
    return Path(values.get("repo1-path", DEFAULT_REPO_PATH))


def tree_bytes(path: Path) -> int | None:
    """The bytes of the files under `path` (None when it cannot be read)."""
    if not path.is_dir():
        return None
    total = 0
    for root, _, files in os.walk(path):
        for name in files:
            with contextlib.suppress(OSError):
                total += os.lstat(os.path.join(root, name)).st_size
    return total


# -- verify's output ------------------------------------------------------------------------------

VERIFY_STANZA = re.compile(r"^stanza: (\S+)\s*$")
VERIFY_STATUS = re.compile(r"^status: (\S+)\s*$")
VERIFY_BACKUP = re.compile(r"^\s+backup: ([^,\s]+), status: ([^,\s]+)")
VERIFY_ARCHIVE = re.compile(r"^\s+archiveId: (\S+), total WAL checked: (\d+), total valid WAL: (\d+)")


@dataclass(frozen=True)
class VerifyReport:
    """What `pgbackrest --output=text --verbose verify` said of one stanza."""

    stanza: str | None
    status: str | None
    backups: dict[str, str]
    wal_checked: int
    wal_valid: int

    @property
    def passed(self) -> bool:
        return self.status == "ok" and all(s == "valid" for s in self.backups.values()) \
            and self.wal_checked == self.wal_valid

    def problems(self) -> list[str]:
        found = [f"backup {label} is {status}" for label, status in self.backups.items() if status != "valid"]
        if self.wal_valid != self.wal_checked:
            found.append(f"{self.wal_checked - self.wal_valid} of {self.wal_checked} WAL segments are not valid")
        if self.status != "ok" and not found:
            found.append(f"pgBackRest says status {self.status or 'nothing'}")
        return found


def parse_verify_output(text: str) -> VerifyReport:
    stanza = status = None
    backups: dict[str, str] = {}
    checked = valid = 0
    for line in text.splitlines():
        if m := VERIFY_STANZA.match(line):
            stanza = m.group(1)
        elif m := VERIFY_STATUS.match(line):
            status = m.group(1)
        elif m := VERIFY_BACKUP.match(line):
            backups[m.group(1)] = m.group(2)
        elif m := VERIFY_ARCHIVE.match(line):
            checked += int(m.group(2))
            valid += int(m.group(3))
    return VerifyReport(stanza, status, backups, checked, valid)


# -- verifications read back from the journal -----------------------------------------------------

@dataclass(frozen=True)
class JournaledVerify:
    at: datetime
    passed: bool
    system_identifier: str | None


INVALID_PREFIX = "invalid backups: "


def invalid_backups_error(labels: Iterable[str]) -> str:
    """The journaled error of a verify that found `labels` invalid (read back by journal_verifications)."""
    return INVALID_PREFIX + " ".join(labels)


def journal_verifications(entries: Iterable[JournalEntry]) -> dict[tuple[str, str], JournaledVerify]:
    """The latest pgbackrest-verify dbtop ran that said something of each (stanza, label): a run that
    is done found every backup its `backups` precondition saw valid; a failed one names the backups
    it found invalid in its error (`invalid backups: L1 L2`). A run that failed for another reason
    (pgBackRest could not be started …) proves nothing either way."""
    found: dict[tuple[str, str], JournaledVerify] = {}
    for entry in entries:
        if entry.action != VERIFY_ACTION or entry.outcome not in ("done", "failed"):
            continue
        seen = {p.name: p.seen for p in entry.preconditions}.get("backups", {})
        stanza, labels = seen.get("stanza"), seen.get("labels")
        if not isinstance(stanza, str) or not isinstance(labels, str):
            continue
        if entry.outcome == "failed":
            error = entry.error or ""
            labels = error[len(INVALID_PREFIX):] if error.startswith(INVALID_PREFIX) else ""
        check = JournaledVerify(at=entry.time, passed=entry.outcome == "done",
                                system_identifier=entry.detail.get("system_identifier"))
        for label in labels.split():
            key = (stanza, label)
            if key not in found or found[key].at <= check.at:
                found[key] = check
    return found


def mark_verified(entries: list[BackupEntry], verified: dict[tuple[str, str], JournaledVerify],
                  system_ids: dict[str, str]) -> list[BackupEntry]:
    """pgBackRest's entries with what dbtop's journaled verify runs proved, for the cluster the
    stanza backs up now (same system identifier): `verified` when the latest run that said something
    of one passed, `verification_failed` when it found it invalid."""
    marked = []
    for entry in entries:
        stanza, _, label = entry.name.partition("/")
        check = verified.get((stanza, label)) if entry.origin == "pgbackrest" else None
        if check is None or entry.status != "unverified" or check.system_identifier != system_ids.get(stanza):
            marked.append(entry)
        elif check.passed:
            marked.append(entry.model_copy(update={"status": "verified", "verified_at": check.at,
                                                   "verification_detail": VERIFIED_BY}))
        else:
            marked.append(entry.model_copy(update={
                "status": "verification_failed", "verified_at": None,
                "problem": f"pgbackrest verify through dbtop found it invalid ({check.at:%Y-%m-%d %H:%M} UTC): "
                           "see the journal"}))
    return marked


class JournalVerifications:
    """The journaled verifications, read again only when the journal changed."""

    def __init__(self, journal: Journal | None = None):
        self.journal = journal
        self._cached: tuple[tuple, dict[tuple[str, str], JournaledVerify]] | None = None

    def read(self) -> dict[tuple[str, str], JournaledVerify]:
        journal = self.journal or Journal()
        try:
            stat = journal.path.stat()
        except OSError:
            return {}
        key = (str(journal.path), stat.st_mtime_ns, stat.st_size)
        if self._cached is None or self._cached[0] != key:
            try:
                self._cached = (key, journal_verifications(journal.entries()))
            except OSError:
                return {}
        return self._cached[1]
