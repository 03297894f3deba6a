"""Connection profiles: a TOML file under the XDG config dir, validated with pydantic.

    # ~/.config/dbtop/config.toml   (DBTOP_CONFIG names another file)
    [profiles.prod-primary]
    host = "db1.internal"
    port = 5432
    user = "ops"
    database = "app"
    tls_mode = "verify-full"
    ca_file = "/etc/ssl/certs/internal-ca.pem"
    standbys = ["prod-replica"]
    backup_dir = "/var/backups/postgresql"
    rpo = "15m"
    retention = "14d"
    refresh_interval = 2.0
    retention_keep = 3
    verify_target = "scratch-db"
    freshness = { default = "1h", "analytics.daily_sales" = "26h" }
    data_age_columns = { "analytics.daily_sales" = "day" }
    thresholds = { "connections.high_pct" = 75 }
    patroni_url = "http://db1.internal:8008"
    failover_max_lag = "10s"

No secret is ever written to this file: a file that holds a password is refused, with the line to
move to the keyring. Errors name the file and the line, in one line.
"""

from __future__ import annotations

import os
import re
import tempfile
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import (BaseModel, BeforeValidator, ConfigDict, Field, PlainSerializer, ValidationError,
                      field_validator, model_validator)

from .target import DRIVER_OPTIONS, TargetError

PROFILE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")
# A profile with one of these names could not be opened as `dbtop NAME`.
RESERVED_NAMES = {"snapshot", "demo", "profile", "views", "audit", "help"}
TLS_MODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")
# Keys that hold a secret, wherever they appear in the file.
SECRET_KEY = re.compile(r"(^|_)(password|passwd|pgpassword|secret)$", re.IGNORECASE)
# A secret inside a value: a URL with user:password@, or a libpq `password=`.
SECRET_IN_VALUE = re.compile(r"://[^/@:\s]*:[^@/\s]+@|\bpassword\s*=", re.IGNORECASE)
# Options with a field of their own, or secrets, are not accepted in `options`.
OPTIONS_WITH_FIELDS = {"sslmode": "tls_mode", "sslrootcert": "ca_file", "connect_timeout": "connect_timeout"}


class ProfileError(TargetError):
    """A profile or the profile file is wrong; str() is one line that says what to do."""


# -- durations ------------------------------------------------------------------------------------
DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)\s*(w|d|h|m|s)", re.IGNORECASE)
UNIT_SECONDS = {"w": 604800, "d": 86400, "h": 3600, "m": 60, "s": 1}


def parse_duration(value: Any) -> timedelta:
    """`90s`, `15m`, `2h`, `1h30m`, `14d`, `2w`, or a number of seconds."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, bool):
        raise ValueError("expected a duration such as '15m', '2h' or '14d'")
    if isinstance(value, (int, float)):
        if value < 0:
            raise ValueError("a duration cannot be negative")
        return timedelta(seconds=value)
    if isinstance(value, str):
        text = value.strip().replace(" ", "")
        if text and DURATION_PART.sub("", text) == "":
            seconds = sum(float(n) * UNIT_SECONDS[u.lower()] for n, u in DURATION_PART.findall(text))
            return timedelta(seconds=seconds)
    raise ValueError(f"{value!r} is not a duration: write it as '90s', '15m', '2h', '1h30m' or '14d'")


def format_duration(value: timedelta) -> str:
    seconds = int(value.total_seconds())
    if seconds == 0:
        return "0s"
    parts = []
    for unit in ("d", "h", "m", "s"):
        n, seconds = divmod(seconds, UNIT_SECONDS[unit])
        if n:
            parts.append(f"{n}{unit}")
    return "".join(parts)


Duration = Annotated[timedelta, BeforeValidator(parse_duration), PlainSerializer(format_duration, return_type=str)]


def _check_name(name: str) -> str:
    if not PROFILE_NAME.match(name):
        raise ValueError(f"{name!r} is not a valid profile name: use letters, digits, '-', '_' and '.', "
                         "starting with a letter or digit")
    if name in RESERVED_NAMES:
        raise ValueError(f"{name!r} is a dbtop command and cannot name a profile: choose another name")
    return name


ProfileName = Annotated[str, BeforeValidator(lambda v: _check_name(v) if isinstance(v, str) else v)]


def _options_as_text(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: (str(v).lower() if isinstance(v, bool) else str(v)) if isinstance(v, (int, float, bool)) else v
                for k, v in value.items()}
    return value


class Profile(BaseModel):
    """One connection profile. It never holds a secret: the password lives in the keyring."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: ProfileName
    engine: Literal["postgres", "mongo"] = "postgres"
    hosts: list[str] = Field(default_factory=list,
                             description="host names, IP addresses or socket directories; 'host:port' for a port of its own")
    port: int | None = Field(default=None, ge=1, le=65535)
    user: str | None = None
    database: str | None = None
    service: str | None = Field(default=None, description="an entry of pg_service.conf")
    tls_mode: Literal["disable", "allow", "prefer", "require", "verify-ca", "verify-full"] | None = None
    ca_file: str | None = None
    srv: bool = Field(default=False, description="MongoDB: resolve the hosts through DNS SRV (mongodb+srv://)")
    options: Annotated[dict[str, str], BeforeValidator(_options_as_text)] = Field(default_factory=dict)
    connect_timeout: float | None = Field(default=None, gt=0, le=600)
    standbys: list[ProfileName] = Field(default_factory=list)
    backup_dir: str | None = None
    rpo: Duration | None = None
    retention: Duration | None = None
    retention_keep: int | None = Field(default=None, ge=1, le=1000,
                                       description="the newest N good backups are kept whatever their age")
    verify_target: ProfileName | None = Field(default=None,
                                              description="the profile whose server test-restores backups "
                                                          "(default: the profile's own server)")
    freshness: dict[str, Duration] = Field(default_factory=dict)
    data_age_columns: dict[str, str] = Field(default_factory=dict,
                                             description="materialized view -> the timestamp column its data age is read from")
    thresholds: dict[str, float] = Field(default_factory=dict, description="findings' thresholds by name")
    refresh_interval: float | None = Field(default=None, ge=0.5, le=60)
    patroni_url: str | None = Field(default=None, description="Patroni's REST API (default: port 8008 on the host)")
    failover_max_lag: Duration | None = Field(default=None, description="how far behind a standby (promote) or a "
                                                                       "Patroni candidate (switchover, failover) "
                                                                       "may be (default 10s)")
    read_only: bool = True
    theme: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _host_or_hosts(cls, data: Any) -> Any:
        if isinstance(data, Mapping) and "host" in data:
            if "hosts" in data:
                raise ValueError("give either host or hosts, not both")
            data = dict(data)
            host = data.pop("host")
            data["hosts"] = [host] if isinstance(host, str) else host
        return data

    @field_validator("hosts")
    @classmethod
    def _hosts_not_empty(cls, hosts: list[str]) -> list[str]:
        for host in hosts:
            if not host.strip() or "," in host or any(c.isspace() for c in host):
                raise ValueError(f"{host!r} is not a host: give a host name, an IP address or a socket directory")
        return hosts

    @field_validator("patroni_url")
    @classmethod
    def _patroni_url(cls, url: str | None) -> str | None:
        if url is None:
            return None
        parts = urlsplit(url.strip())
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"patroni_url {url!r} is not an http(s) URL: write it as 'http://HOST:8008'")
        if parts.username or parts.password:
            raise ValueError("patroni_url holds credentials: give the URL without them")
        return url.strip()

    @field_validator("failover_max_lag")
    @classmethod
    def _positive_lag(cls, lag: timedelta | None) -> timedelta | None:
        if lag is not None and lag.total_seconds() <= 0:
            raise ValueError("failover_max_lag must be more than 0s, e.g. '10s'")
        return lag

    @model_validator(mode="after")
    def _consistent(self) -> Profile:
        if self.engine == "postgres":
            for key in self.options:
                if key in OPTIONS_WITH_FIELDS:
                    raise ValueError(f"option {key!r} has a field of its own: write {OPTIONS_WITH_FIELDS[key]} = … instead")
                if key not in DRIVER_OPTIONS or SECRET_KEY.search(key):
                    raise ValueError(f"unknown connection option {key!r}: use a libpq option name "
                                     "(target_session_attrs, sslcert, sslkey, …)")
            if self.srv:
                raise ValueError("srv applies to MongoDB profiles only")
        if self.name in self.standbys:
            raise ValueError("a profile cannot be its own standby")
        if self.verify_target == self.name:
            raise ValueError("verify_target names this profile: leave it out to verify on this server")
        return self

    def as_toml(self) -> dict[str, Any]:
        """What the file holds for this profile: the fields that differ from their defaults."""
        data = self.model_dump(mode="json", exclude_defaults=True, exclude={"name"})
        hosts = data.pop("hosts", None)
        if hosts:
            # `host = "db1"` reads better than a list of one.
            ordered: dict[str, Any] = {"engine": data.pop("engine")} if "engine" in data else {}
            ordered.update({"host": hosts[0]} if len(hosts) == 1 else {"hosts": hosts})
            ordered.update(data)
            data = ordered
        return data

    def host_ports(self) -> list[tuple[str, int | None]]:
        """(host, port) for each host; `host:port` entries carry their own port."""
        result = []
        for entry in self.hosts:
            host, port = entry, self.port
            if not entry.startswith("/"):
                if entry.startswith("["):  # [IPv6]:port
                    inside, _, rest = entry[1:].partition("]")
                    host = inside
                    if rest.startswith(":") and rest[1:].isdigit():
                        port = int(rest[1:])
                elif entry.count(":") == 1:
                    name, _, text = entry.partition(":")
                    if text.isdigit():
                        host, port = name, int(text)
            result.append((host, port))
        return result

    @property
    def label(self) -> str:
        """Where the profile points, safe to show: user@host:port/database."""
        default_port = 27017 if self.engine == "mongo" else 5432
        where = ",".join(f"{h}:{p or default_port}" for h, p in self.host_ports())
        if not where:
            where = f"service {self.service}" if self.service else "local socket"
        return f"{self.user or '?'}@{where}/{self.database or self.user or '?'}"


class ProfileFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    profiles: dict[str, Profile] = Field(default_factory=dict)


# -- where the file is ----------------------------------------------------------------------------
def config_path(environ: Mapping[str, str] | None = None) -> Path:
    """DBTOP_CONFIG, else $XDG_CONFIG_HOME/dbtop/config.toml (~/.config/dbtop/config.toml)."""
    env = os.environ if environ is None else environ
    if env.get("DBTOP_CONFIG"):
        return Path(env["DBTOP_CONFIG"]).expanduser()
    base = env.get("XDG_CONFIG_HOME")
    root = Path(base).expanduser() if base and os.path.isabs(os.path.expanduser(base)) else Path.home() / ".config"
    return root / "dbtop" / "config.toml"


# -- finding the line of a key --------------------------------------------------------------------
BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
TABLE_HEADER = re.compile(r"""^\[\[?\s*((?:[^\]"'#]|"[^"]*"|'[^']*')+?)\s*\]\]?\s*(?:#.*)?$""")


def _split_dotted(text: str) -> tuple[str, ...]:
    """`profiles."a.b".port` -> ('profiles', 'a.b', 'port'); raises ValueError if it is not a key."""
    parts: list[str] = []
    i, n = 0, len(text)
    while True:
        while i < n and text[i] in " \t":
            i += 1
        if i >= n:
            raise ValueError(text)
        if text[i] in "\"'":
            quote = text[i]
            end = text.find(quote, i + 1)
            if end < 0:
                raise ValueError(text)
            parts.append(text[i + 1:end])
            i = end + 1
        else:
            m = BARE_KEY.match(text, i)
            if not m:
                raise ValueError(text)
            parts.append(m.group())
            i = m.end()
        while i < n and text[i] in " \t":
            i += 1
        if i >= n:
            return tuple(parts)
        if text[i] != ".":
            raise ValueError(text)
        i += 1


def key_lines(text: str) -> dict[tuple[str, ...], int]:
    """The line (1-based) where each table and key is defined. Good enough for error messages:
    multi-line values and keys inside inline tables are not indexed (their parent key is)."""
    lines: dict[tuple[str, ...], int] = {}
    table: tuple[str, ...] = ()
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        try:
            header = TABLE_HEADER.match(stripped)
            if header:
                table = _split_dotted(header.group(1))
                lines.setdefault(table, number)
            elif "=" in stripped:
                key = _split_dotted(_key_part(stripped))
                lines.setdefault(table + key, number)
        except ValueError:
            continue
    return lines


def _key_part(line: str) -> str:
    """The text before the first `=` that is not inside quotes."""
    quote = None
    for i, c in enumerate(line):
        if quote:
            if c == quote:
                quote = None
        elif c in "\"'":
            quote = c
        elif c == "=":
            return line[:i]
    raise ValueError(line)


# -- loading --------------------------------------------------------------------------------------
@dataclass
class ProfileConfig:
    """The profile file as read: where it is, its text, and the validated profiles."""

    path: Path
    text: str = ""
    profiles: dict[str, Profile] = field(default_factory=dict)

    @property
    def exists(self) -> bool:
        return self.path.exists()

    def line_of(self, *keys: str) -> int | None:
        lines = key_lines(self.text)
        keys_t = tuple(keys)
        while keys_t:
            if keys_t in lines:
                return lines[keys_t]
            keys_t = keys_t[:-1]
        return None

    def where(self, *keys: str) -> str:
        line = self.line_of(*keys)
        return f"{self.path} line {line}" if line else str(self.path)

    def get(self, name: str) -> Profile:
        try:
            return self.profiles[name]
        except KeyError:
            known = ", ".join(sorted(self.profiles)) or "none yet"
            raise ProfileError(f"no profile named {name!r} in {self.path} (profiles: {known}): "
                               "'dbtop profile list' shows them, 'dbtop profile add NAME URL' adds one") from None


def _toml_error_line(exc: tomllib.TOMLDecodeError, text: str) -> tuple[int, str]:
    message = str(exc)
    line = getattr(exc, "lineno", None)
    m = re.search(r"\s*\(at line (\d+), column \d+\)$", message)
    if m:
        line = line or int(m.group(1))
        message = message[:m.start()]
    m = re.search(r"\s*\(at end of document\)$", message)
    if m:
        line = line or max(1, len(text.splitlines()))
        message = message[:m.start()]
    return line or 1, message


NAME_TABLES = {("freshness",), ("data_age_columns",), ("thresholds",)}


def _find_secrets(data: Any, path: tuple[str, ...] = ()) -> tuple[str, ...] | None:
    """The key path of the first secret in the parsed file, if any."""
    if isinstance(data, Mapping):
        for key, value in data.items():
            # keys of these tables are view and threshold names, not settings
            if path[-1:] not in NAME_TABLES and SECRET_KEY.search(str(key)):
                return path + (key,)
            found = _find_secrets(value, path + (key,))
            if found:
                return found
    elif isinstance(data, list):
        for item in data:
            found = _find_secrets(item, path)
            if found:
                return found
    elif isinstance(data, str) and SECRET_IN_VALUE.search(data):
        return path
    return None


def _validation_message(config: ProfileConfig, exc: ValidationError) -> str:
    errors = exc.errors(include_url=False)
    error = errors[0]
    loc = tuple(str(part) for part in error["loc"])
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    where = config.where(*loc)
    if loc[:1] != ("profiles",):
        if error["type"] == "extra_forbidden":
            return (f"{where}: unknown key {loc[0]!r}: profiles go in [profiles.NAME] tables; "
                    f"remove {loc[0]!r}{more}")
        return f"{where}: {error['msg']}: profiles go in [profiles.NAME] tables{more}"
    if len(loc) < 2:
        return f"{where}: 'profiles' must be a table of [profiles.NAME] tables: fix the file{more}"
    name = loc[1]
    key = ".".join(loc[2:])
    subject = f"profile {name!r}" + (f", key {key!r}" if key else "")
    if error["type"] == "extra_forbidden":
        known = ", ".join(["host"] + [f for f in Profile.model_fields if f != "name"])
        return f"{where}: {subject}: unknown key: remove it or use one of {known}{more}"
    msg = error["msg"].removeprefix("Value error, ")
    return f"{where}: {subject}: {msg}: fix the value{more}"


def parse_config(text: str, path: Path) -> ProfileConfig:
    """Validate the text of a profile file; ProfileError with file and line if it is wrong."""
    config = ProfileConfig(path=path, text=text)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        line, message = _toml_error_line(exc, text)
        raise ProfileError(f"{path} line {line}: not valid TOML ({message}): fix the file") from None
    secret = _find_secrets(data)
    if secret:
        name = secret[1] if len(secret) > 1 and secret[0] == "profiles" else None
        fix = (f"remove it and store it in the keyring with 'dbtop profile edit {name} --password'" if name
               else "remove it and store the password in the keyring with 'dbtop profile edit NAME --password'")
        raise ProfileError(f"{config.where(*secret)}: the profile file holds a password ({'.'.join(secret)}) "
                           f"and dbtop keeps no secret in it: {fix}")
    profiles = data.get("profiles")
    if isinstance(profiles, dict):
        for name, body in profiles.items():
            if isinstance(body, dict):
                if "name" in body:
                    raise ProfileError(f"{config.where('profiles', name, 'name')}: profile {name!r}: "
                                       f"a profile is named by its table [profiles.{name}]: remove 'name'")
                body["name"] = name
    try:
        parsed = ProfileFile.model_validate(data)
    except ValidationError as exc:
        raise ProfileError(_validation_message(config, exc)) from None
    for name, profile in parsed.profiles.items():
        for standby in profile.standbys:
            if standby not in parsed.profiles:
                raise ProfileError(f"{config.where('profiles', name, 'standbys')}: profile {name!r}: standby "
                                   f"{standby!r} is not a profile: add it, or remove it from standbys")
    config.profiles = parsed.profiles
    return config


def load_config(path: Path | None = None) -> ProfileConfig:
    """Read and validate the profile file; a file that does not exist yet has no profiles."""
    path = path or config_path()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return ProfileConfig(path=path)
    except (OSError, UnicodeDecodeError) as exc:
        raise ProfileError(f"cannot read the profile file {path} ({exc.__class__.__name__}: "
                           f"{getattr(exc, 'strerror', None) or exc}): check its permissions") from None
    return parse_config(text, path)


def load_profiles(path: Path | None = None) -> list[Profile]:
    """Every profile in the file, in the file's order (an empty list when there is no file)."""
    return list(load_config(path).profiles.values())


# -- writing --------------------------------------------------------------------------------------
def describe(profile: Profile) -> str:
    """One line for lists and the picker; never a secret."""
    text = f"{profile.engine} {profile.label}"
    if profile.standbys:
        text += f"  standbys {', '.join(profile.standbys)}"
    if not profile.read_only:
        text += "  read-write"
    return text


def _write_atomically(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    mode = path.stat().st_mode & 0o777 if path.exists() else 0o600
    fd, tmp = tempfile.mkstemp(prefix=".config.", suffix=".toml", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def _profile_table(profile: Profile):
    import tomlkit

    table = tomlkit.table()
    for key, value in profile.as_toml().items():
        if isinstance(value, dict):
            inline = tomlkit.inline_table()
            inline.update(value)
            table[key] = inline
        else:
            table[key] = value
    return table


def save_profiles(config: ProfileConfig, changes: Mapping[str, Profile | None],
                  renames: Mapping[str, str] | None = None) -> ProfileConfig:
    """Write `changes` (name -> profile, or None to remove) into the file, keeping its comments and
    the order of the other profiles, and return the file as read back."""
    import tomlkit

    doc = tomlkit.parse(config.text) if config.text else tomlkit.document()
    if "profiles" not in doc:
        doc["profiles"] = tomlkit.table(is_super_table=True)
    tables = doc["profiles"]
    for old, new in (renames or {}).items():
        if old in tables:
            tables[new] = tables.pop(old)
    for name, profile in changes.items():
        if profile is None:
            if name in tables:
                del tables[name]
        elif name in tables:
            existing = tables[name]
            wanted = profile.as_toml()
            for key in [k for k in existing if k not in wanted]:
                del existing[key]
            for key, value in _profile_table(profile).items():
                if key not in existing or existing[key] != wanted[key]:
                    existing[key] = value
        else:
            tables[name] = _profile_table(profile)
    text = tomlkit.dumps(doc)
    checked = parse_config(text, config.path)  # never write a file dbtop would refuse to read
    _write_atomically(config.path, text)
    return checked
