"""Resolving TARGET as psql would: URLs applications carry, libpq strings, services, environment."""

import pytest

from dbtop.profiles.target import TargetError, mask_url, parse_keyword_string, resolve_target


def test_asyncpg_url_from_an_application():
    t = resolve_target("postgresql+asyncpg://app:s%40cret@db1.internal:6432/analytics?sslmode=require", {})
    assert (t.hosts, t.ports, t.user, t.database) == (["db1.internal"], [6432], "app", "analytics")
    assert t.password.get_secret_value() == "s@cret"
    assert t.options == {"sslmode": "require"}
    assert "s@cret" not in t.label and "s@cret" not in repr(t)
    assert t.label == "app@db1.internal:6432/analytics"


def test_plain_and_multi_host_urls():
    t = resolve_target("postgres://a.example:5432,b.example:5433/app?target_session_attrs=read-write", {})
    assert t.hosts == ["a.example", "b.example"] and t.ports == [5432, 5433]
    assert t.options == {"target_session_attrs": "read-write"}
    t = resolve_target("postgresql:///app?host=/var/run/postgresql&port=5433", {})
    assert t.hosts == ["/var/run/postgresql"] and t.ports == [5433] and t.database == "app"


def test_libpq_keyword_string_with_quoting():
    assert parse_keyword_string(r"host=db1 password='it\'s a secret' dbname = app") == {
        "host": "db1", "password": "it's a secret", "dbname": "app"}
    t = resolve_target("host=db1 port=5433 user=ops dbname=app connect_timeout=3", {})
    assert (t.hosts, t.ports, t.user, t.database, t.connect_timeout_s) == (["db1"], [5433], "ops", "app", 3.0)


def test_environment_fills_what_the_target_leaves_out():
    env = {"PGHOST": "envhost", "PGPORT": "7777", "PGUSER": "envuser", "PGDATABASE": "envdb", "PGSSLMODE": "verify-full"}
    t = resolve_target(None, env)
    assert (t.hosts, t.ports, t.user, t.database) == (["envhost"], [7777], "envuser", "envdb")
    assert t.options["sslmode"] == "verify-full"
    t = resolve_target("dbname=explicit", env)
    assert t.database == "explicit" and t.hosts == ["envhost"]


def test_service_file(tmp_path):
    services = tmp_path / "pg_service.conf"
    services.write_text("[reporting]\nhost=replica1\nport=5499\ndbname=warehouse\nuser=analyst\n")
    env = {"PGSERVICEFILE": str(services)}
    t = resolve_target("service=reporting", env)
    assert (t.hosts, t.ports, t.user, t.database) == (["replica1"], [5499], "analyst", "warehouse")
    t = resolve_target(None, dict(env, PGSERVICE="reporting"))
    assert t.hosts == ["replica1"]
    t = resolve_target("service=reporting dbname=other", env)
    assert t.database == "other"
    with pytest.raises(TargetError, match="service 'missing' is not defined"):
        resolve_target("service=missing", env)


def test_mask_url_hides_passwords():
    assert mask_url("failed for postgresql://u:hunter2@h/db") == "failed for postgresql://u:***@h/db"


@pytest.mark.parametrize("text, fragment", [
    ("postgresql://h:port/db", "cannot parse URL"),
    ("redis://h", "unsupported URL scheme"),
    ("just-words", "cannot understand target"),
    ("host=h port=abc", "is not a number"),
    ("host=h sslmod=require", "unknown connection option 'sslmod'"),
    ("host='open", "unterminated quoted value"),
    ("host=h connect_timeout=soon", "connect_timeout"),
])
def test_bad_targets_say_what_is_wrong(text, fragment):
    with pytest.raises(TargetError, match=fragment) as info:
        resolve_target(text, {})
    assert "\n" not in str(info.value)
