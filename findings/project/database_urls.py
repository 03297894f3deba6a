"""Database URLs found in text (PostgreSQL with any SQLAlchemy driver suffix, MongoDB), parsed without
ever showing the password: `masked` has it replaced by ***."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, unquote

URL_PATTERN = re.compile(r"(?:postgres(?:ql)?(?:\+[a-z0-9_]+)?|mongodb(?:\+srv)?)://[^\s'\"<>`]+", re.IGNORECASE)
LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1", "0.0.0.0", "host.docker.internal"})
TLS_OFF = frozenset({"disable", "allow", "false", "0", "no", "off"})
INTERPOLATION = re.compile(r"\$\{?[A-Za-z_]|%\([^)]*\)s|\{[^}]*\}|^<.*>$")


def is_interpolated(value: str) -> bool:
    """A value filled in elsewhere (`${VAR}`, `$VAR`, `%(var)s`, `{var}`, `<placeholder>`), not a literal."""
    return bool(INTERPOLATION.search(value))


@dataclass(frozen=True)
class DatabaseUrl:
    """One URL: its scheme with the driver (`postgresql+asyncpg`), user, hosts and parameters."""

    scheme: str
    username: str | None
    password: str | None = field(repr=False)
    hosts: tuple[str, ...]
    query: dict[str, str] = field(hash=False)  # keys lower-cased
    masked: str

    @property
    def is_mongo(self) -> bool:
        return self.scheme.startswith("mongodb")

    @property
    def literal_password(self) -> str | None:
        """The password when the URL spells it out (not `${VAR}`)."""
        return self.password if self.password and not is_interpolated(self.password) else None

    def is_local(self, private_names: set[str]) -> bool | None:
        """True when every host is this machine, a unix socket or a name private to a compose network;
        None when a host is filled in elsewhere and cannot be judged."""
        hosts = self.hosts or (self.query.get("host", ""),)
        for host in hosts:
            if is_interpolated(host):
                return None
            if not (host == "" or host.startswith("/") or host in LOCAL_HOSTS or host in private_names):
                return False
        return True

    def first_param(self, *keys: str) -> tuple[str, str] | None:
        """The first of `keys` (lower case) the query has, with its value as written; None when it has none."""
        return next(((key, self.query[key]) for key in keys if key in self.query), None)

    @property
    def postgres_tls(self) -> str | None:
        """The TLS parameter as written (`sslmode=require`), or None when there is none or it turns TLS off."""
        if (param := self.first_param("sslmode", "ssl", "tls")) is None:
            return None
        key, value = param
        return None if value.lower() in TLS_OFF else f"{key}={value}"


def parse_url(text: str) -> DatabaseUrl | None:
    scheme, sep, rest = text.partition("://")
    if not sep:
        return None
    # The user part ends at the last "@": an unencoded "@", "/" or "?" in a password then still stays in it,
    # so a malformed URL hides too much rather than showing part of a password.
    at = rest.rfind("@")
    userinfo, hostpart = (rest[:at], rest[at + 1:]) if at >= 0 else ("", rest)
    username, colon, password = userinfo.partition(":")
    netloc_end = min((i for i in (hostpart.find(c) for c in "/?#") if i >= 0), default=len(hostpart))
    netloc, tail = hostpart[:netloc_end], hostpart[netloc_end:]
    query_text = tail.partition("?")[2].partition("#")[0]
    query = {k.lower(): v for k, v in parse_qsl(query_text, keep_blank_values=True)}
    hosts = tuple(_host(h) for h in netloc.split(",")) if netloc else ()
    user_shown = f"{username}:***@" if colon else (f"{username}@" if at >= 0 else "")
    return DatabaseUrl(scheme=scheme.lower(), username=(unquote(username) or None) if at >= 0 else None,
                       password=unquote(password) if colon else None, hosts=tuple(h for h in hosts if h is not None),
                       query=query, masked=f"{scheme}://{user_shown}{_mask_ports(netloc)}{tail}")


def find_urls(line: str) -> list[DatabaseUrl]:
    found = (parse_url(m.group(0).rstrip(",;)")) for m in URL_PATTERN.finditer(line))
    return [url for url in found if url is not None]


def _host(host: str) -> str | None:
    host = unquote(host.strip()).lower()
    if host.startswith("["):
        return host[1:].split("]")[0]
    return host.split(":")[0]


def _mask_ports(netloc: str) -> str:
    # A "port" that is not a number is most likely the rest of a password cut by a quote: never show it.
    return ",".join(re.sub(r":(?![0-9]*$)(?!\$\{)[^\]]*$", ":***", h) if not h.startswith("[") else h
                    for h in netloc.split(","))
