"""The action journal: one JSON line per action, appended and flushed to disk, each line carrying the
SHA-256 of the line before it, so an edited, inserted or deleted line is detected by `verify`.

The file is `$XDG_STATE_HOME/dbtop/journal.jsonl` (`~/.local/state/dbtop/journal.jsonl`). Beside it,
`journal.jsonl.head` holds the hash of the last line, so a removed or edited *last* line is detected too.
Appends from several dbtop processes are serialised with an exclusive lock on the journal file.
"""

from __future__ import annotations

import fcntl
import getpass
import hashlib
import json
import os
import socket
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..engines.redact import redact
from .plan import Outcome, Plan, Precondition, Status

GENESIS = "0" * 64


def default_journal_path(environ: Mapping[str, str] | None = None) -> Path:
    env = os.environ if environ is None else environ
    state = env.get("XDG_STATE_HOME", "")
    base = Path(state) if state and Path(state).is_absolute() else Path.home() / ".local" / "state"
    return base / "dbtop" / "journal.jsonl"


class JournalEntry(BaseModel):
    model_config = ConfigDict(frozen=True, defer_build=True)

    time: datetime
    os_user: str
    host: str
    profile: str | None = None
    target: str
    action: str
    statements: list[str] = Field(default_factory=list, description="statements or the command line, secrets removed")
    preconditions: list[Precondition] = Field(default_factory=list)
    typed: str | None = Field(default=None, description="what the operator typed to confirm")
    typed_second: str | None = Field(default=None, description="what was typed for a plan's second confirmation "
                                                               "('split-brain'), when it asked for one")
    outcome: Status
    duration_s: float | None = None
    error: str | None = None
    detail: dict[str, Any] = Field(default_factory=dict)
    prev_sha256: str


@dataclass
class Verification:
    lines: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def intact(self) -> bool:
        return not self.problems


def line_hash(line: bytes) -> str:
    return hashlib.sha256(line.rstrip(b"\n")).hexdigest()


class Journal:
    def __init__(self, path: Path | None = None):
        self.path = path or default_journal_path()
        self.head_path = self.path.with_name(self.path.name + ".head")

    def record(self, plan: Plan, outcome: Outcome, *, typed: str | None = None, typed_second: str | None = None,
               detail: dict[str, Any] | None = None) -> JournalEntry:
        """The journal line of a plan that was run (or refused, or failed)."""
        return self.append(
            target=plan.target.label, action=plan.action, outcome=outcome.status, profile=plan.target.profile,
            statements=plan.runs,
            preconditions=list(outcome.preconditions or plan.preconditions), typed=typed, typed_second=typed_second,
            duration_s=outcome.duration_s, error=outcome.error, now=outcome.finished_at,
            detail={"summary": plan.summary, "result": outcome.detail,
                    "system_identifier": plan.target.system_identifier, "host": plan.target.host,
                    "database": plan.target.database, **(detail or {})})

    def append(self, *, target: str, action: str, outcome: Status, statements: list[str] | None = None,
               preconditions: list[Precondition] | None = None, profile: str | None = None,
               typed: str | None = None, typed_second: str | None = None, duration_s: float | None = None,
               error: str | None = None, detail: dict[str, Any] | None = None,
               now: datetime | None = None) -> JournalEntry:
        """Append one entry; raises OSError when the journal cannot be written (an action whose
        journal line cannot be written must not be reported as journaled)."""
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            previous = self._last_line(fd)
            entry = JournalEntry(
                time=now or datetime.now(timezone.utc), os_user=_os_user(), host=socket.gethostname(),
                profile=profile, target=redact(target), action=action,
                statements=[redact(s) for s in statements or []], preconditions=preconditions or [],
                typed=typed, typed_second=typed_second, outcome=outcome, duration_s=duration_s,
                error=redact(error) if error is not None else None, detail=detail or {},
                prev_sha256=line_hash(previous) if previous is not None else GENESIS)
            line = entry.model_dump_json().encode() + b"\n"
            os.write(fd, line)
            os.fsync(fd)
            self._write_head(line_hash(line))
            return entry
        finally:
            os.close(fd)  # releases the lock

    def _write_head(self, digest: str) -> None:
        temporary = self.head_path.with_name(self.head_path.name + ".tmp")
        with open(temporary, "w") as handle:
            handle.write(digest + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, self.head_path)

    @staticmethod
    def _last_line(fd: int) -> bytes | None:
        size = os.lseek(fd, 0, os.SEEK_END)
        if size == 0:
            return None
        chunk, position = b"", size
        while position > 0:
            step = min(65536, position)
            position -= step
            chunk = os.pread(fd, step, position) + chunk
            body = chunk.rstrip(b"\n")
            cut = body.rfind(b"\n")
            if cut >= 0:
                return body[cut + 1:]
        return chunk.rstrip(b"\n")

    def raw_lines(self) -> Iterator[bytes]:
        if not self.path.exists():
            return
        with open(self.path, "rb") as handle:
            for line in handle:
                if line.strip():
                    yield line.rstrip(b"\n")

    def entries(self, since: datetime | None = None) -> Iterator[JournalEntry]:
        """Entries in the order they were written (a line that does not parse is skipped: `verify`
        reports it)."""
        for line in self.raw_lines():
            try:
                entry = JournalEntry.model_validate_json(line)
            except ValidationError:
                continue
            if since is None or entry.time >= since:
                yield entry

    def verify(self) -> Verification:
        result = Verification()
        previous = GENESIS
        for number, line in enumerate(self.raw_lines(), 1):
            result.lines = number
            try:
                claimed = json.loads(line).get("prev_sha256")
            except (ValueError, AttributeError):
                result.problems.append(f"line {number} is not a journal entry (edited?)")
                claimed = None
            if claimed is not None and claimed != previous:
                result.problems.append(f"line {number} does not follow line {number - 1}: a line was edited, "
                                       "inserted or deleted before it")
            previous = line_hash(line)
        head = self.head_path.read_text().strip() if self.head_path.exists() else None
        if head is None and result.lines:
            result.problems.append(f"{self.head_path.name} is missing: the last line cannot be checked")
        elif head is not None and head != previous:
            result.problems.append(f"the last line ({result.lines}) is not the last one written: it was edited, "
                                   "or lines were removed from the end")
        return result


def _os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return str(os.getuid())
