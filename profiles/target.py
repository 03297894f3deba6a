"""What to connect to: a URL, a libpq keyword string, or libpq's environment, resolved as psql would.

Accepts the URLs applications already carry (`postgresql+asyncpg://…`, `postgresql://…`,
`postgres://…`), libpq keyword strings (`host=db1 port=5432 dbname=app`), `service=NAME`
entries of pg_service.conf, and nothing at all (PGHOST, PGPORT, PGUSER, PGDATABASE,
PGSERVICE). Passwords stay in `SecretStr` and never appear in a label or an error.
"""

from __future__ import annotations

import configparser
import getpass
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr

# Connection options passed through to the driver as libpq understands them.
DRIVER_OPTIONS = {
    "sslmode", "sslrootcert", "sslcert", "sslkey", "sslcrl", "sslpassword", "sslnegotiation",
    "ssl_min_protocol_version", "ssl_max_protocol_version", "passfile", "target_session_attrs",
    "krbsrvname", "gsslib",
}
# libpq options that are valid but have no meaning for a monitor that sets its own session.
IGNORED_OPTIONS = {
    "application_name", "fallback_application_name", "client_encoding", "options",
    "keepalives", "keepalives_idle", "keepalives_interval", "keepalives_count",
    "tcp_user_timeout", "gssencmode", "channel_binding", "requirepeer", "requiressl",
    "load_balance_hosts", "hostaddr",
}
CORE_KEYS = {"host", "port", "user", "dbname", "password", "service", "connect_timeout"}
KEY_ALIASES = {"database": "dbname", "username": "user"}

ENV_KEYS = {
    "host": "PGHOST", "port": "PGPORT", "user": "PGUSER", "dbname": "PGDATABASE",
    "sslmode": "PGSSLMODE", "sslrootcert": "PGSSLROOTCERT", "sslcert": "PGSSLCERT",
    "sslkey": "PGSSLKEY", "passfile": "PGPASSFILE", "connect_timeout": "PGCONNECT_TIMEOUT",
    "target_session_attrs": "PGTARGETSESSIONATTRS",
}

POSTGRES_SCHEMES = re.compile(r"^(postgres|postgresql)(\+[a-z0-9_]+)?$")
MONGO_SCHEMES = {"mongodb", "mongodb+srv"}
DEFAULT_SOCKET_DIR = "/var/run/postgresql"


class TargetError(ValueError):
    """A target that cannot be understood; the message is one line that says what to do."""


class Target(BaseModel):
    """A resolved connection target. `label` is safe to show; the password never is."""

    model_config = ConfigDict(frozen=True, defer_build=True)

    engine: Literal["postgres", "mongo"] = "postgres"
    hosts: list[str] = Field(default_factory=list)
    ports: list[int] = Field(default_factory=list)
    user: str | None = None
    database: str | None = None
    password: SecretStr | None = None
    options: dict[str, str] = Field(default_factory=dict)
    connect_timeout_s: float = 5.0
    mongo_uri: SecretStr | None = None

    @property
    def label(self) -> str:
        if self.engine == "mongo":
            return mask_url(self.mongo_uri.get_secret_value()) if self.mongo_uri else "mongodb"
        hosts = self.hosts or [DEFAULT_SOCKET_DIR]
        ports = self.ports or [5432]
        where = ",".join(
            f"{h}:{ports[i] if i < len(ports) else ports[-1]}" for i, h in enumerate(hosts)
        )
        return f"{self.user or '?'}@{where}/{self.database or self.user or '?'}"

    def with_password(self, password: str | None) -> Target:
        return self.model_copy(update={"password": SecretStr(password) if password else None})


def mask_url(text: str) -> str:
    """Replace the password of any URL in `text` with ***."""
    return re.sub(r"(\w[\w+.-]*://[^:/@\s]*:)[^@\s]*(@)", r"\1***\2", text)


def quote_keyword_value(value: str) -> str:
    """A value of a libpq keyword string, quoted when it must be (`parse_keyword_string` reads it back)."""
    if value and not any(c.isspace() or c in "'\\" for c in value):
        return value
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def parse_keyword_string(text: str) -> dict[str, str]:
    """Parse a libpq keyword/value string: `key=value key2='quoted \\' value'`."""
    result: dict[str, str] = {}
    i, n = 0, len(text)
    while i < n:
        while i < n and text[i].isspace():
            i += 1
        if i >= n:
            break
        m = re.match(r"([A-Za-z_][A-Za-z0-9_]*)\s*=\s*", text[i:])
        if not m:
            raise TargetError(f"cannot parse connection string near {text[i:i + 20]!r}: "
                              "expected key=value pairs such as 'host=db1 dbname=app'")
        key = m.group(1)
        i += m.end()
        value = []
        if i < n and text[i] == "'":
            i += 1
            while True:
                if i >= n:
                    raise TargetError(f"unterminated quoted value for {key!r} in connection string")
                c = text[i]
                if c == "\\" and i + 1 < n:
                    value.append(text[i + 1])
                    i += 2
                    continue
                if c == "'":
                    i += 1
                    break
                value.append(c)
                i += 1
        else:
            while i < n and not text[i].isspace():
                if text[i] == "\\" and i + 1 < n:
                    value.append(text[i + 1])
                    i += 2
                    continue
                value.append(text[i])
                i += 1
        result[KEY_ALIASES.get(key, key)] = "".join(value)
    return result


def _parse_postgres_url(text: str) -> dict[str, str]:
    """Parse with SQLAlchemy's URL parser; libpq's multi-host form `h1:5432,h2:5433` is moved
    into `host=`/`port=` query keys first, since make_url reads one host only."""
    scheme, _, rest = text.partition("://")
    netloc, slash, tail = rest.partition("/")
    auth, at, hostspec = netloc.rpartition("@")
    extra: list[tuple[str, str]] = []
    if "," in hostspec:
        hosts, ports = [], []
        for item in hostspec.split(","):
            host, _, port = item.rpartition(":") if not item.endswith("]") and ":" in item else (item, "", "")
            hosts.append(host.strip("[]"))
            ports.append(port)
        extra.append(("host", ",".join(hosts)))
        if any(ports):
            extra.append(("port", ",".join(p or "5432" for p in ports)))
        text = f"{scheme}://{auth}{at}{slash}{tail}"
    from sqlalchemy.engine import make_url  # 100 ms to import: only when a URL is given
    from sqlalchemy.exc import ArgumentError

    try:
        url = make_url(text)
    except (ArgumentError, ValueError) as exc:
        raise TargetError(f"cannot parse URL {mask_url(text)!r} ({exc}): "
                          "use postgresql://user@host:5432/dbname") from None
    params: dict[str, str] = {}
    for key, value in (("user", url.username), ("password", url.password), ("host", url.host),
                       ("port", url.port), ("dbname", url.database)):
        if value not in (None, ""):
            params[key] = str(value)
    for key, value in list(url.query.items()) + extra:
        params[KEY_ALIASES.get(key, key)] = value if isinstance(value, str) else ",".join(value)
    return params


def _service_files(env: Mapping[str, str]) -> list[Path]:
    files = []
    user_file = env.get("PGSERVICEFILE")
    files.append(Path(user_file) if user_file else Path.home() / ".pg_service.conf")
    sysconf = env.get("PGSYSCONFDIR")
    if sysconf:
        files.append(Path(sysconf) / "pg_service.conf")
    else:
        files += [Path("/etc/postgresql-common/pg_service.conf"), Path("/etc/pg_service.conf")]
    return files


def _read_service(name: str, env: Mapping[str, str]) -> dict[str, str]:
    searched = _service_files(env)
    for path in searched:
        if not path.is_file():
            continue
        parser = configparser.ConfigParser(interpolation=None)
        try:
            parser.read(path)
        except configparser.Error as exc:
            raise TargetError(f"cannot read service file {path}: {str(exc).splitlines()[0]}") from None
        if parser.has_section(name):
            return {KEY_ALIASES.get(k, k): v for k, v in parser.items(name)}
    where = ", ".join(str(p) for p in searched)
    raise TargetError(f"service {name!r} is not defined in {where}: add a [{name}] section or set PGSERVICEFILE")


def _raw_params(text: str | None) -> dict[str, str]:
    if text is None or not text.strip():
        return {}
    text = text.strip()
    scheme = text.split("://", 1)[0].lower() if "://" in text else None
    if scheme is not None:
        if POSTGRES_SCHEMES.match(scheme):
            return _parse_postgres_url(text)
        raise TargetError(f"unsupported URL scheme {scheme!r} in {mask_url(text)!r}: "
                          "use postgresql://user@host:5432/dbname or mongodb://host:27017")
    if "=" in text:
        return parse_keyword_string(text)
    raise TargetError(f"cannot understand target {text!r}: give a URL such as "
                      "postgresql://user@host:5432/dbname, a libpq string such as 'host=db1 dbname=app', "
                      "or a profile name")


def looks_like_profile_name(text: str | None) -> bool:
    """A TARGET that is neither a URL nor a libpq string may name a profile."""
    return bool(text and text.strip()) and "://" not in text and "=" not in text


def resolve_target(text: str | None, environ: Mapping[str, str] | None = None) -> Target:
    """Resolve TARGET as psql would: explicit keys, then the service file, then PG* variables."""
    env = os.environ if environ is None else environ
    if text and text.strip().split("://", 1)[0].lower() in MONGO_SCHEMES:
        return Target(engine="mongo", mongo_uri=SecretStr(text.strip()))
    params = _raw_params(text)
    unknown = set(params) - CORE_KEYS - DRIVER_OPTIONS - IGNORED_OPTIONS
    if unknown:
        raise TargetError(f"unknown connection option {sorted(unknown)[0]!r}: "
                          "remove it or use a libpq option name (host, port, user, dbname, sslmode, …)")
    service = params.get("service") or env.get("PGSERVICE")
    if service:
        for key, value in _read_service(service, env).items():
            params.setdefault(key, value)
    for key, var in ENV_KEYS.items():
        if key not in params and env.get(var):
            params[key] = env[var]

    hosts = [h for h in params.get("host", "").split(",") if h] if params.get("host") else []
    ports: list[int] = []
    for p in params.get("port", "").split(",") if params.get("port") else []:
        if not p.strip().isdigit():
            raise TargetError(f"port {p!r} is not a number: give a port such as 5432")
        ports.append(int(p))
    user = params.get("user") or env.get("PGUSER") or getpass.getuser()
    timeout = 5.0
    if params.get("connect_timeout"):
        try:
            timeout = max(1.0, float(params["connect_timeout"]))
        except ValueError:
            raise TargetError(f"connect_timeout {params['connect_timeout']!r} is not a number of seconds") from None
    password = params.get("password")
    return Target(
        engine="postgres",
        hosts=hosts,
        ports=ports,
        user=user,
        database=params.get("dbname") or user,
        password=SecretStr(password) if password else None,
        options={k: v for k, v in params.items() if k in DRIVER_OPTIONS},
        connect_timeout_s=timeout,
    )
