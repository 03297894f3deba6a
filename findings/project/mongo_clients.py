"""MongoDB clients as the code makes them: Mongoose (`mongoose.connect`, `createConnection`), the Node driver
(`new MongoClient`) and PyMongo (`MongoClient(...)`), with the options they pass beside the URI (tls, the pool
size, credentials), and Mongoose schemas whose indexes Mongoose builds on the live collections at every start
(autoIndex, on unless turned off)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import PurePosixPath

from ..model import Evidence, Finding, Severity
from .database_urls import DatabaseUrl, find_urls

CLIENT_CALL = re.compile(r"(?:\bmongoose\s*\.\s*(?:connect|createConnection)|\b(?:Async)?MongoClient(?:\s*\.\s*connect)?)"
                         r"\s*\(")
STRING_LITERAL = re.compile(r"([\"'`])[^\"'`]*\1")
MAX_CALL_CHARS = 4000
MAX_CALLS = 50
TLS_OPTION = re.compile(r"[\"']?\b(?:tls|ssl)[\"']?\s*[:=]\s*(?P<value>true|false)\b", re.IGNORECASE)
POOL_OPTION = re.compile(r"[\"']?\b(?:maxPoolSize|poolSize)[\"']?\s*[:=]\s*(?P<value>\d+)")
CREDENTIALS_OPTION = re.compile(r"[\"']?\b(?:user|username|pass|password|auth|authMechanism)[\"']?\s*[:=]")
AUTO_INDEX_OFF = re.compile(r"[\"']?\bautoIndex[\"']?\s*[:,=]\s*(?:false|False)\b")
SCHEMA = re.compile(r"\bnew\s+(?:mongoose\s*\.\s*)?Schema\s*\(|\bmongoose\s*\.\s*Schema\s*\(")
SCHEMA_INDEX = re.compile(r"\b(?:index|unique)\s*:\s*true\b|\.\s*index\s*\(\s*\{")


@dataclass(frozen=True)
class ClientOptions:
    """What one client call sets besides its URI (None: not set there)."""

    location: str
    url: DatabaseUrl | None  # the URI when it is written in the call
    tls: bool | None
    pool: int | None
    credentials: bool

    def applied_to(self, url: DatabaseUrl) -> DatabaseUrl:
        """`url` as the driver sees it with these options: an option given in code wins over the URI's."""
        query = dict(url.query)
        if self.tls is not None:
            query["tls"] = "true" if self.tls else "false"
        if self.pool is not None:
            query["maxpoolsize"] = str(self.pool)
        username = url.username if url.username is not None or not self.credentials else "(set in code)"
        return DatabaseUrl(scheme=url.scheme, username=username, password=url.password, hosts=url.hosts, query=query,
                           masked=url.masked)


def _line(text: str, offset: int) -> int:
    return text.count("\n", 0, offset) + 1


def _arguments(text: str, start: int) -> str:
    """The text between the call's parentheses (from `start`, just after "("), bounded."""
    depth = 0
    for i in range(start, min(len(text), start + MAX_CALL_CHARS)):
        if text[i] in "([{":
            depth += 1
        elif text[i] in ")]}":
            if depth == 0:
                return text[start:i]
            depth -= 1
    return text[start:start + MAX_CALL_CHARS]


def client_calls(rel: str, text: str) -> list[ClientOptions]:
    """The MongoDB client calls of one source file, with what they set."""
    if "mongo" not in text.lower():
        return []
    calls = []
    for m in list(CLIENT_CALL.finditer(text))[:MAX_CALLS]:
        arguments = _arguments(text, m.end())
        first, _, options = arguments.partition(",")
        # the URI counts when the first argument is one string literal (not concatenated, not a variable)
        literal = STRING_LITERAL.fullmatch(first.strip())
        urls = [u for u in find_urls(literal.group(0)) if u.is_mongo] if literal else []
        tls = TLS_OPTION.search(options)
        pool = POOL_OPTION.search(options)
        calls.append(ClientOptions(location=f"{rel}:{_line(text, m.start())}", url=urls[0] if urls else None,
                                   tls=tls["value"].lower() == "true" if tls else None,
                                   pool=int(pool["value"]) if pool else None,
                                   credentials=bool(CREDENTIALS_OPTION.search(options))))
    return calls


def options_for_configured_urls(calls: list[ClientOptions]) -> ClientOptions | None:
    """What the code's clients that take their URI from the configuration (not written in the call) set
    beside it: TLS when every such client sets it the same way, the largest pool when every one sets one;
    None without such clients."""
    configured = [c for c in calls if c.url is None]
    if not configured:
        return None
    tls = {c.tls for c in configured}
    pools = [c.pool for c in configured]
    return ClientOptions(location=configured[0].location, url=None, tls=tls.pop() if len(tls) == 1 else None,
                         pool=None if None in pools else max(p for p in pools if p is not None),
                         credentials=all(c.credentials for c in configured))


def auto_index_findings(texts: dict[str, str]) -> list[Finding]:
    """Mongoose schemas that declare indexes in a project that never turns autoIndex off."""
    if any(AUTO_INDEX_OFF.search(t) for t in texts.values()):
        return []
    found = []
    for rel, text in sorted(texts.items()):
        if (schema := SCHEMA.search(text)) is None or (index := SCHEMA_INDEX.search(text, schema.start())) is None:
            continue
        where = f"{rel}:{_line(text, index.start())}"
        found.append(Finding(
            id=f"project.orm.mongoose_auto_index:{rel}", rule="project.orm.mongoose_auto_index", area="migrations",
            severity=Severity.MEDIUM, title=f"Mongoose builds this schema's indexes at every start ({where})",
            evidence=[Evidence(subject=PurePosixPath(rel).name,
                               detail=f"{index.group(0).strip()} with autoIndex left on (its default)", location=where)],
            impact="Each process that starts calls createIndex for every index of the schema on the live "
                   "collection: a new index is built in production by whichever instance starts first, unreviewed "
                   "and at deploy time, competing with the traffic; a unique index on data with duplicates fails "
                   "there.",
            fix="Turn it off outside development (`mongoose.set('autoIndex', false)` or `autoIndex: false` in the "
                "connection or schema options) and build indexes deliberately (a migration, or syncIndexes() run "
                "by hand at a quiet time).",
            source="project"))
    return found
