"""Secrets in text read from a server, hidden before any other layer holds the text.

pg_stat_statements keeps utility statements with their literals and pg_stat_activity shows what a
client sent, so `CREATE ROLE x PASSWORD 'S3cret'`, a dblink or subscription connection string with
`password=…`, or a `scheme://user:secret@host` URL arrive in statement texts, session queries and
error messages. `redact()` is the one function the engines call on such text; it is pure and
engine-neutral (a MongoDB engine uses it for connection strings in commands).

What it hides, case-insensitively and across any whitespace or comments:
- the literal after the keyword PASSWORD (CREATE/ALTER ROLE/USER [ENCRYPTED] PASSWORD, postgres_fdw
  `OPTIONS (password '…')`, `ADD`/`SET password '…'`) or after `password =`, in any quoting: '…' with
  '' escapes, E'…' with backslash escapes, U&'…', $$…$$ and $tag$…$tag$; `PASSWORD NULL` stays;
- `password=value` and `password='quoted value'` (libpq connection strings) inside any literal,
  quoted name or comment, and written without spaces anywhere else (an error message, a setting);
- the password of a URL;
- to the end of the text, a literal cut off before its closing quote (pg_stat_activity cuts a query
  at track_activity_query_size).
A literal's own text is searched again as SQL, so a statement quoted inside a function body or a
DO block is covered too. Texts without "password" or "://" are returned as they are, at the cost of
one search.
"""

from __future__ import annotations

import re
from typing import NamedTuple

from ..profiles.target import mask_url

HIDDEN = "***"

_SPECIAL = re.compile(r"['\"$]|--|/\*")
_STANDARD = re.compile(r"'((?:[^']|'')*)('?)", re.DOTALL)
_ESCAPED = re.compile(r"'((?:[^'\\]|''|\\.)*\\?)('?)", re.DOTALL)
_IDENTIFIER = re.compile(r'"((?:[^"]|"")*)("?)', re.DOTALL)
_DOLLAR_TAG = re.compile(r"\$(?:[^\W\d]\w*)?\$")
_BLOCK_COMMENT_EDGE = re.compile(r"/\*|\*/")
_E_ESCAPE = re.compile(r"''|\\(x[0-9A-Fa-f]{1,2}|[0-7]{1,3}|u[0-9A-Fa-f]{4}|U[0-9A-Fa-f]{8}|.)", re.DOTALL)
_E_SIMPLE = {"b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}
# The keyword before a literal that makes the literal a password: `PASSWORD '…'`, `password = '…'`.
_KEYWORD_BEFORE = re.compile(r"\bpassword\s*(?:=\s*)?\Z", re.IGNORECASE)
# A libpq keyword/value pair. Inside a literal spaces may surround `=`; in other text only the form
# without spaces counts (a connection string has it, `WHERE password = x` in SQL has not). A value
# already hidden, or a bind parameter ($1), is left alone.
_NOT_A_SECRET = r"(?!'*\*\*\*|\$\d|\?)"
_PAIR_IN_LITERAL = re.compile(r"(password\s*=\s*)" + _NOT_A_SECRET + r"('(?:[^'\\]|\\.)*'?|[^\s']+)",
                              re.IGNORECASE | re.DOTALL)
_PAIR_IN_TEXT = re.compile(r"(password=)" + _NOT_A_SECRET + r"('(?:[^'\\]|\\.)*'?|[^\s'\"]+)",
                           re.IGNORECASE | re.DOTALL)
_MAX_DEPTH = 4


class _Token(NamedTuple):
    kind: str  # "standard", "escaped", "dollar", "identifier", "comment"
    start: int  # first character, with a prefix such as E or U&
    end: int
    body_start: int
    body_end: int


def redact(text: str | None) -> str | None:
    """`text` with every password it carries replaced by ***; None and texts without secrets are
    returned unchanged (the same object)."""
    if not text or not _may_hold_secret(text):
        return text
    redacted = _redact(text, 0)
    return text if redacted == text else redacted


def _may_hold_secret(text: str) -> bool:
    # Lowering and a substring test cost a fifth of a case-insensitive regular expression search.
    return "://" in text or "password" in text.lower()


def _redact(text: str, depth: int) -> str:
    out: list[str] = []
    position = 0
    gap: list[str] = []  # the code since the last literal or name, comments left out
    after_password_name = False  # the last literal or name was "password" (a quoted option name)
    for token in _tokens(text):
        code = text[position:token.start]
        out.append(_hide_pairs(code, _PAIR_IN_TEXT))
        gap.append(code)
        position = token.end
        if token.kind == "comment":
            out.append(_redact_body(text, token, depth))
            continue
        before = "".join(gap)
        gap = []
        if token.kind != "identifier" and (
                _KEYWORD_BEFORE.search(before) or (after_password_name and not before.strip())):
            out.append(f"'{HIDDEN}'")
            after_password_name = False
            continue
        after_password_name = (token.kind == "identifier"
                               and text[token.body_start:token.body_end].lower() == "password")
        out.append(_redact_body(text, token, depth))
    out.append(_hide_pairs(text[position:], _PAIR_IN_TEXT))
    return "".join(out)


def _hide_pairs(text: str, pattern: re.Pattern[str]) -> str:
    if not _may_hold_secret(text):
        return text
    hidden = pattern.sub(lambda m: m.group(1) + (f"'{HIDDEN}'" if m.group(2).startswith("'") else HIDDEN), text)
    return mask_url(hidden) if "://" in hidden else hidden


def _redact_body(text: str, token: _Token, depth: int) -> str:
    """The token as written, or re-quoted around its redacted content when that content changed."""
    raw_body = text[token.body_start:token.body_end]
    if not _may_hold_secret(raw_body):
        return text[token.start:token.end]
    if token.kind == "escaped":
        body = _E_ESCAPE.sub(_unescape, raw_body)
    elif token.kind in ("standard", "identifier"):
        body = raw_body.replace("''", "'") if token.kind == "standard" else raw_body.replace('""', '"')
    else:
        body = raw_body
    redacted = _redact(body, depth + 1) if depth < _MAX_DEPTH else body
    if token.kind != "dollar":  # a dollar-quoted body is code: its literals were searched just now
        redacted = _hide_pairs(redacted, _PAIR_IN_LITERAL)
    if redacted == body:
        return text[token.start:token.end]
    opening = text[token.start:token.body_start]
    closing = text[token.body_end:token.end]
    if token.kind == "escaped":
        redacted = redacted.replace("\\", "\\\\").replace("'", "\\'")
    elif token.kind == "standard":
        redacted = redacted.replace("'", "''")
    elif token.kind == "identifier":
        redacted = redacted.replace('"', '""')
    return opening + redacted + closing


def _unescape(match: re.Match[str]) -> str:
    escape = match.group(1)
    if escape is None:
        return "'"
    if escape in _E_SIMPLE:
        return _E_SIMPLE[escape]
    try:
        if escape[0] == "x":
            return chr(int(escape[1:], 16))
        if escape[0] in "uU" and len(escape) > 1:
            return chr(int(escape[1:], 16))
        if escape[0] in "01234567":
            return chr(int(escape, 8))
    except (ValueError, OverflowError):
        return escape
    return escape


def _is_name_char(char: str) -> bool:
    return char.isalnum() or char in "_$"


def _tokens(text: str):
    """The literals, quoted names and comments of `text`, in order. A literal or comment cut off
    before its end runs to the end of the text."""
    n = len(text)
    i = 0
    while True:
        match = _SPECIAL.search(text, i)
        if match is None:
            return
        i = match.start()
        char = text[i]
        if char == "'":
            start, kind = i, "standard"
            if i >= 1 and text[i - 1] in "eEnNbBxX" and (i < 2 or not _is_name_char(text[i - 2])):
                start = i - 1
                kind = "escaped" if text[i - 1] in "eE" else "standard"
            elif i >= 2 and text[i - 2:i] in ("U&", "u&") and (i < 3 or not _is_name_char(text[i - 3])):
                start = i - 2
            m = (_ESCAPED if kind == "escaped" else _STANDARD).match(text, i)
            yield _Token(kind, start, m.end(), i + 1, m.end(1))
            i = m.end()
        elif char == '"':
            m = _IDENTIFIER.match(text, i)
            yield _Token("identifier", i, m.end(), i + 1, m.end(1))
            i = m.end()
        elif char == "$":
            m = _DOLLAR_TAG.match(text, i)
            if m is None or (i >= 1 and _is_name_char(text[i - 1])):
                i += 1
                continue
            tag = m.group()
            close = text.find(tag, m.end())
            if close < 0:
                yield _Token("dollar", i, n, m.end(), n)
                return
            yield _Token("dollar", i, close + len(tag), m.end(), close)
            i = close + len(tag)
        elif text.startswith("--", i):
            close = text.find("\n", i)
            end = n if close < 0 else close
            yield _Token("comment", i, end, i + 2, end)
            i = end
        else:  # /* … */, nested as PostgreSQL nests them
            depth, j = 0, i
            while True:
                edge = _BLOCK_COMMENT_EDGE.search(text, j)
                if edge is None:
                    yield _Token("comment", i, n, i + 2, n)
                    return
                depth += 1 if edge.group() == "/*" else -1
                j = edge.end()
                if depth == 0:
                    yield _Token("comment", i, j, i + 2, j - 2)
                    break
            i = j
