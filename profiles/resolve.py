"""From a profile to a Target, with the password found in this order:

1. the profile's entry in the keyring (service `dbtop`, entry named after the profile);
2. what libpq itself would use: a password in the profile's pg_service.conf entry, PGPASSWORD
   (honoured for compatibility, never written anywhere), then the password file (PGPASSFILE or
   ~/.pgpass);
3. a prompt, when dbtop runs in a terminal (the command line does this, not this module).

And from a URL to a profile: `profile_from_url` splits a URL (or libpq string) into the profile's
fields and the password, which goes to the keyring and never into the file.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from urllib.parse import parse_qsl, quote, unquote

from pydantic import SecretStr, ValidationError

from .config import TLS_MODES, Profile, ProfileError, load_config
from .secret_store import HeadlessKeyringError, SecretStore
from .target import (DRIVER_OPTIONS, IGNORED_OPTIONS, MONGO_SCHEMES, Target, TargetError, _raw_params,
                     looks_like_profile_name, mask_url, quote_keyword_value, resolve_target)

PasswordSource = Literal["keyring", "given", "service file", "PGPASSWORD", "password file"]


@dataclass(frozen=True)
class ResolvedProfile:
    """A profile's target and where its password comes from (None: no password known to dbtop)."""

    profile: Profile
    target: Target
    password_source: PasswordSource | None
    keyring_headless: bool = False


def keyword_string(profile: Profile) -> str:
    """The profile as a libpq keyword string (no password: there is none in a profile)."""
    params: dict[str, str] = {}
    pairs = profile.host_ports()
    if pairs:
        params["host"] = ",".join(h for h, _ in pairs)
        if any(p for _, p in pairs):
            params["port"] = ",".join(str(p or 5432) for _, p in pairs)
    elif profile.port:
        params["port"] = str(profile.port)
    for key, value in (("user", profile.user), ("dbname", profile.database), ("service", profile.service),
                       ("sslmode", profile.tls_mode),
                       ("sslrootcert", os.path.expanduser(profile.ca_file) if profile.ca_file else None),
                       ("connect_timeout", f"{profile.connect_timeout:g}" if profile.connect_timeout else None)):
        if value:
            params[key] = value
    params.update(profile.options)
    return " ".join(f"{k}={quote_keyword_value(v)}" for k, v in params.items())


def mongo_uri(profile: Profile, password: SecretStr | None) -> str:
    scheme = "mongodb+srv" if profile.srv else "mongodb"
    auth = ""
    if profile.user:
        auth = quote(profile.user, safe="")
        if password:
            auth += ":" + quote(password.get_secret_value(), safe="")
        auth += "@"
    hosts = ",".join(f"{h}:{p}" if p and not profile.srv else h for h, p in profile.host_ports()) or "localhost"
    query = dict(profile.options)
    if profile.tls_mode and profile.tls_mode not in ("disable", "allow", "prefer"):
        query["tls"] = "true"
    if profile.ca_file:
        query["tlsCAFile"] = os.path.expanduser(profile.ca_file)
    text = f"{scheme}://{auth}{hosts}/{quote(profile.database or '', safe='')}"
    if query:
        text += "?" + "&".join(f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in query.items())
    return text


def _profile_environment(environ: Mapping[str, str]) -> dict[str, str]:
    # A profile is its own service: PGSERVICE must not add another one behind its back.
    return {k: v for k, v in environ.items() if k != "PGSERVICE"}


def password_file(environ: Mapping[str, str]) -> Path:
    return Path(environ["PGPASSFILE"]).expanduser() if environ.get("PGPASSFILE") else Path.home() / ".pgpass"


def resolve_profile(profile: Profile, store: SecretStore | None = None, *, password: SecretStr | None = None,
                    environ: Mapping[str, str] | None = None, use_keyring: bool = True) -> ResolvedProfile:
    """The profile's Target, its password from the keyring (or `password` when given), else left to
    libpq's own sources. A keyring that cannot be used on this machine is skipped (see
    `keyring_headless`); a keyring that fails otherwise raises SecretStoreError."""
    env = os.environ if environ is None else environ
    store = store or SecretStore()
    headless = False
    source: PasswordSource | None = "given" if password else None
    if password is None and use_keyring:
        try:
            password = store.get(profile.name)
        except HeadlessKeyringError:
            headless = True
        if password is not None:
            source = "keyring"
    if profile.engine == "mongo":
        target = Target(engine="mongo", mongo_uri=SecretStr(mongo_uri(profile, password)),
                        connect_timeout_s=profile.connect_timeout or 5.0)
        return ResolvedProfile(profile, target, source, headless)
    try:
        target = resolve_target(keyword_string(profile) or None, _profile_environment(env))
    except TargetError as exc:
        raise ProfileError(f"profile {profile.name!r}: {exc}") from None
    if password is not None:
        target = target.model_copy(update={"password": password})
    elif target.password is not None:
        source = "service file"
    elif env.get("PGPASSWORD"):
        source = "PGPASSWORD"
    elif password_file(env).is_file():
        source = "password file"
    return ResolvedProfile(profile, target, source, headless)


def resolve_profile_target(profile: Profile, store: SecretStore | None = None) -> Target:
    """The Target to connect to for `profile`, its password from the keyring when it has one there."""
    return resolve_profile(profile, store).target


def find_profile(text: str | None, path: Path | None = None) -> Profile | None:
    """The profile a TARGET names, or None when TARGET is a URL, a libpq string or nothing; a
    name that is no profile raises TargetError saying what a target can be."""
    if not looks_like_profile_name(text):
        return None
    config = load_config(path)
    name = text.strip()
    if name in config.profiles:
        return config.profiles[name]
    raise TargetError(f"cannot understand target {name!r}: it is not a profile ('dbtop profile list' shows them), "
                      "nor a URL such as postgresql://user@host:5432/dbname, nor a libpq string such as "
                      "'host=db1 dbname=app'")


# -- from a URL to a profile ----------------------------------------------------------------------
def _split_mongo_url(url: str) -> tuple[dict[str, Any], SecretStr | None]:
    scheme, _, rest = url.partition("://")
    netloc, _, tail = rest.partition("/")
    path, _, query = tail.partition("?")
    if "?" in netloc:
        netloc, _, query = netloc.partition("?")
    auth, _, hosts = netloc.rpartition("@")
    user, _, password = auth.partition(":")
    fields: dict[str, Any] = {"engine": "mongo", "hosts": [h for h in hosts.split(",") if h]}
    if scheme.lower() == "mongodb+srv":
        fields["srv"] = True
    if user:
        fields["user"] = unquote(user)
    if path:
        fields["database"] = unquote(path)
    options: dict[str, str] = {}
    for key, value in parse_qsl(query, keep_blank_values=True):
        if key.lower() in ("tls", "ssl"):
            fields["tls_mode"] = "require" if value.lower() == "true" else "disable"
        elif key == "tlsCAFile":
            fields["ca_file"] = value
        elif "password" in key.lower():
            raise ProfileError(f"the URL {mask_url(url)!r} has a {key!r}: dbtop keeps one password per profile, "
                               "in the keyring")
        else:
            options[key] = value
    if options:
        fields["options"] = options
    return fields, SecretStr(unquote(password)) if password else None


def connection_fields(url: str) -> tuple[dict[str, Any], SecretStr | None]:
    """The profile fields a URL or libpq string gives, and its password (kept apart)."""
    text = url.strip()
    if "://" in text and text.split("://", 1)[0].lower() in MONGO_SCHEMES:
        return _split_mongo_url(text)
    resolve_target(text, {})  # the same checks and messages as `dbtop TARGET`
    params = _raw_params(text)
    fields: dict[str, Any] = {"engine": "postgres"}
    hosts = [h for h in params.pop("host", "").split(",") if h]
    ports = [p for p in params.pop("port", "").split(",") if p]
    if len(set(ports)) > 1 or (ports and len(ports) != len(hosts) and len(ports) > 1):
        fields["hosts"] = [f"{h}:{ports[i] if i < len(ports) else ports[-1]}" for i, h in enumerate(hosts)]
    else:
        if hosts:
            fields["hosts"] = hosts
        if ports:
            fields["port"] = int(ports[0])
    password = params.pop("password", None)
    for key, field_name in (("user", "user"), ("dbname", "database"), ("service", "service"),
                            ("sslmode", "tls_mode"), ("sslrootcert", "ca_file")):
        if key in params:
            fields[field_name] = params.pop(key)
    if "connect_timeout" in params:
        fields["connect_timeout"] = float(params.pop("connect_timeout"))
    if "sslpassword" in params:
        raise ProfileError(f"the target {mask_url(text)!r} has an sslpassword: dbtop keeps one secret per profile, "
                           "the password; use an unencrypted client key or a libpq service entry")
    if fields.get("tls_mode") and fields["tls_mode"] not in TLS_MODES:
        raise ProfileError(f"sslmode {fields['tls_mode']!r} is not one of {', '.join(TLS_MODES)}: fix the URL")
    options = {k: v for k, v in params.items() if k in DRIVER_OPTIONS and k not in IGNORED_OPTIONS}
    if options:
        fields["options"] = options
    return fields, SecretStr(password) if password else None


def build_profile(name: str, fields: Mapping[str, Any]) -> Profile:
    """A Profile from fields, with pydantic's complaint turned into one line naming the field."""
    try:
        return Profile.model_validate({**fields, "name": name})
    except ValidationError as exc:
        error = exc.errors(include_url=False)[0]
        key = ".".join(str(part) for part in error["loc"])
        msg = error["msg"].removeprefix("Value error, ")
        subject = f"profile {name!r}" + (f", {key}" if key and key != "name" else "")
        raise ProfileError(f"{subject}: {msg}: fix the value") from None


def profile_from_url(name: str, url: str, **settings: Any) -> tuple[Profile, SecretStr | None]:
    """A profile named `name` from a URL (plus other settings), and the URL's password, if any."""
    fields, password = connection_fields(url)
    fields.update({k: v for k, v in settings.items() if v is not None})
    return build_profile(name, fields), password
