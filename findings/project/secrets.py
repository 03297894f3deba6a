"""Database passwords that are defaults or too short, and secrets committed to git. A finding says where a
secret is, under which name, and how long it is; the value itself is never copied into it."""

from __future__ import annotations

import re

from ..model import Evidence, Finding, Severity
from .config_files import ConfigFile

DEFAULT_PASSWORDS = frozenset({"change_me", "changeme", "change-me", "postgres", "password", "passw0rd", "secret",
                               "admin", "root", "123456", "12345678", "mysecretpassword", "mongo", "example"})
MIN_PASSWORD_LENGTH = 12
PASSWORD_NAME = re.compile(r"(PASSWORD|PASSWD|_PASS)$", re.IGNORECASE)
DATABASE_WORD = re.compile(r"PG|POSTGRES|DB|DATABASE|MONGO|MYSQL|MARIADB|SQL", re.IGNORECASE)
SECRET_NAME = re.compile(r"(PASSWORD|PASSWD|SECRET|TOKEN|_KEY)$", re.IGNORECASE)
NOT_SECRET_NAME = re.compile(r"PUBLIC|PUBLISHABLE", re.IGNORECASE)
NOT_SECRET_VALUE = frozenset({"true", "false", "yes", "no", "none", "null", "0", "1"})


def is_database_password_name(name: str) -> bool:
    """POSTGRES_PASSWORD, PGPASSWORD, DB_PASS, MONGO_INITDB_ROOT_PASSWORD, and Django's DATABASES "PASSWORD"."""
    return bool(PASSWORD_NAME.search(name)) and (name.upper() == "PASSWORD" or bool(DATABASE_WORD.search(name)))


def shown(value: str) -> str:
    """How a secret appears in a finding."""
    return f"*** ({len(value)} characters)"


def weakness(password: str, username: str | None = None) -> str | None:
    if password.lower() in DEFAULT_PASSWORDS:
        return "a well-known default"
    if username and password.lower() == username.lower():
        return "the same as the user name"
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"shorter than {MIN_PASSWORD_LENGTH} characters"
    return None


def weak_password_findings(config: ConfigFile) -> list[Finding]:
    """Default or short database passwords, in variables and in database URLs (commented lines too: a
    password in a comment is still a password)."""
    candidates = [(a.name, a.value, None, a.location) for a in config.assignments if is_database_password_name(a.name)]
    candidates += [(m.url.masked, m.url.literal_password, m.url.username, m.location) for m in config.urls
                   if m.url.literal_password]
    found = []
    for subject, password, username, where in candidates:
        why = weakness(password, username)
        if why is None:
            continue
        found.append(Finding(
            id=f"project.config.weak_password:{where}", rule="project.config.weak_password", area="security",
            severity=Severity.MEDIUM if config.example else Severity.CRITICAL,
            title=f"{'Example' if config.example else 'Weak'} database password, {why} ({where})",
            evidence=[Evidence(subject=subject, detail=f"{shown(password)}, {why}", location=where)],
            impact="Example values get copied into real environments as they are." if config.example else
                   "A default or short password is the first thing tried against a reachable database: it is a login.",
            fix="Generate a long random password, keep it in a secret store or the deployment's environment (not in "
                "the repository), and rotate the current one." if not config.example else
                "Leave the value empty or write a placeholder (`${POSTGRES_PASSWORD}`) that cannot work as is.",
            source="project"))
    return found


def committed_secret_findings(config: ConfigFile) -> list[Finding]:
    """Literal secrets (passwords in URLs, *_PASSWORD, *_SECRET, *_TOKEN, *_KEY) in a file git tracks;
    example files are meant to be committed and are left out."""
    if not config.tracked or config.example:
        return []
    candidates = [(a.name, a.value, a.location) for a in config.assignments
                  if SECRET_NAME.search(a.name) and not NOT_SECRET_NAME.search(a.name)
                  and a.value.lower() not in NOT_SECRET_VALUE]
    candidates += [(m.url.masked, m.url.literal_password, m.location) for m in config.urls if m.url.literal_password]
    return [Finding(
        id=f"project.secrets.committed:{where}", rule="project.secrets.committed", area="security",
        severity=Severity.HIGH, title=f"Secret committed to the repository ({where})",
        evidence=[Evidence(subject=subject, detail=f"{shown(value)} in a file tracked by git", location=where)],
        impact="Everyone with the repository, its forks, its history and its CI logs has the secret.",
        fix="Rotate the secret now; read it from the environment or a secret store instead; `git rm --cached` the "
            "file and add it to .gitignore (the old value stays in the history until it is rewritten).",
        source="project") for subject, value, where in candidates]
