"""Connection profiles in-process: the profile file, passwords in a keyring set with
keyring.set_keyring (a test backend, and real file backends in a temporary directory, never the
developer's keyring), precedence, and the messages for what goes wrong."""

from __future__ import annotations

import io
import secrets
import sys
from datetime import timedelta

import keyring
import keyring.core
import pytest
from keyring.backend import KeyringBackend
from keyring.backends import fail, null
from keyring.errors import PasswordDeleteError
from pydantic import SecretStr
from keyrings.cryptfile.cryptfile import CryptFileKeyring
from keyrings.cryptfile.file import PlaintextKeyring

from dbtop.profiles import load_profiles, resolve_profile_target
from dbtop.profiles.config import Profile, ProfileError, config_path, load_config, parse_duration
from dbtop.profiles.resolve import profile_from_url, resolve_profile
from dbtop.profiles.secret_store import SERVICE, HeadlessKeyringError, SecretStore, SecretStoreError
from dbtop.tui import cli
from dbtop.tui.profile_targets import ProfileDirectory


class MemoryKeyring(KeyringBackend):
    """A keyring backend for tests: entries in a dict."""

    priority = 1

    def __init__(self):
        super().__init__()
        self.entries: dict[tuple[str, str], str] = {}

    def get_password(self, service, username):
        return self.entries.get((service, username))

    def set_password(self, service, username, password):
        self.entries[(service, username)] = password

    def delete_password(self, service, username):
        try:
            del self.entries[(service, username)]
        except KeyError:
            raise PasswordDeleteError(username) from None


@pytest.fixture
def use_keyring():
    """keyring.set_keyring for one test; the backend in force before is put back afterwards."""
    saved = keyring.core._keyring_backend

    def use(backend: KeyringBackend) -> KeyringBackend:
        keyring.set_keyring(backend)
        return backend

    yield use
    keyring.core._keyring_backend = saved


@pytest.fixture
def home(tmp_path, monkeypatch):
    """A profile file, HOME (for ~/.pgpass) and XDG dirs in a temporary directory; no PG* variables."""
    for var in ("PGHOST", "PGPORT", "PGUSER", "PGDATABASE", "PGPASSWORD", "PGSERVICE", "PGPASSFILE",
                "PGSERVICEFILE", "KEYRING_CRYPTFILE_PASSWORD", "PYTHON_KEYRING_BACKEND"):
        monkeypatch.delenv(var, raising=False)
    (tmp_path / "home").mkdir()
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setenv("DBTOP_CONFIG", str(tmp_path / "config" / "dbtop" / "config.toml"))
    return tmp_path


@pytest.fixture(scope="module")
def secret_role(pg):
    """A role that must give its password: TCP connections to the test server use scram-sha-256."""
    password = "pw-" + secrets.token_urlsafe(12)
    pg.psql(f"DROP ROLE IF EXISTS profile_ops; CREATE ROLE profile_ops LOGIN PASSWORD '{password}';"
            "GRANT pg_monitor TO profile_ops")
    # The rule that applies to this role over TCP from 127.0.0.1 is scram-sha-256, and the stored
    # verifier is a SCRAM one: without the right password there is no way in.
    rule = pg.psql("SELECT auth_method FROM pg_hba_file_rules WHERE type = 'host' AND address = '127.0.0.1' "
                   "AND ('all' = ANY(user_name) OR 'profile_ops' = ANY(user_name)) ORDER BY line_number LIMIT 1")
    assert rule == "scram-sha-256"
    assert pg.psql("SELECT rolpassword LIKE 'SCRAM-SHA-256$%' FROM pg_authid WHERE rolname = 'profile_ops'") == "t"
    return "profile_ops", password


def url_of(pg, role: str) -> str:
    return f"postgresql://{role}@127.0.0.1:{pg.port}/postgres"


def profile_cli(*argv: str, stdin: str | None = None, monkeypatch=None) -> int:
    if stdin is not None:
        monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    return cli.main(["profile", *argv])


# -- the profile file -----------------------------------------------------------------------------
def write_config(home, text: str):
    path = home / "config" / "dbtop" / "config.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_config_path_follows_xdg_and_dbtop_config(tmp_path):
    assert config_path({"XDG_CONFIG_HOME": str(tmp_path)}) == tmp_path / "dbtop" / "config.toml"
    assert config_path({"XDG_CONFIG_HOME": str(tmp_path), "DBTOP_CONFIG": "/etc/dbtop.toml"}).as_posix() == "/etc/dbtop.toml"


def test_every_setting_of_a_profile_is_read(home):
    write_config(home, """
# on-call profiles
[profiles.prod-primary]
host = "db1.internal"
port = 5433
user = "ops"
database = "app"
tls_mode = "verify-full"
ca_file = "/etc/ssl/internal-ca.pem"
standbys = ["prod-replica"]
backup_dir = "/var/backups/pg"
rpo = "15m"
retention = "14d"
freshness = { default = "1h", "analytics.daily_sales" = "26h" }
refresh_interval = 5
read_only = false
theme = "dbtop-light"
options = { target_session_attrs = "read-write" }

[profiles.prod-replica]
hosts = ["db2.internal:5433", "db3.internal"]
user = "ops"

[profiles.events]
engine = "mongo"
hosts = ["m1:27017", "m2:27017"]
database = "admin"
""")
    profiles = {p.name: p for p in load_profiles()}
    assert list(profiles) == ["prod-primary", "prod-replica", "events"]
    prod = profiles["prod-primary"]
    assert (prod.hosts, prod.port, prod.user, prod.database) == (["db1.internal"], 5433, "ops", "app")
    assert prod.rpo == timedelta(minutes=15) and prod.retention == timedelta(days=14)
    assert prod.freshness["analytics.daily_sales"] == timedelta(hours=26)
    assert (prod.refresh_interval, prod.read_only, prod.theme) == (5, False, "dbtop-light")
    assert profiles["prod-replica"].host_ports() == [("db2.internal", 5433), ("db3.internal", None)]
    assert profiles["events"].engine == "mongo"


@pytest.mark.parametrize("text, line, fragments", [
    ('[profiles.a]\nhost = "h"\npassword = "hunter2"\n', 3,
     ["holds a password", "profiles.a.password", "keyring", "dbtop profile edit a --password"]),
    ('[profiles.a]\nhost = "h"\noptions = { sslcert = "x", PGPASSWORD = "hunter2" }\n', 3, ["holds a password"]),
    ('[profiles.a]\nhost = "h"\nservice_url = "postgresql://u:hunter2@h/db"\n', 3, ["holds a password"]),
    ('[profiles.a]\nhost = "h"\nhots = "typo"\n', 3, ["profile 'a', key 'hots'", "unknown key", "host"]),
    ('[profiles.a]\nhost = "h"\n\nport = "fifty"\n', 4, ["profile 'a', key 'port'", "valid integer"]),
    ('[profiles.a]\nrpo = "soon"\n', 2, ["key 'rpo'", "not a duration"]),
    ('[profiles.a]\nhost = "h"\npatroni_url = "h:8008"\n', 3, ["key 'patroni_url'", "not an http(s) URL"]),
    ('[profiles.a]\nhost = "h"\npatroni_url = "http://u:hunter2@h:8008"\n', 3, ["holds a password"]),
    ('[profiles.a]\nfailover_max_lag = 0\n', 2, ["key 'failover_max_lag'", "more than 0s"]),
    ('[profiles.a]\nfailover_max_lag = "soon"\n', 2, ["key 'failover_max_lag'", "not a duration"]),
    ('[profiles.a]\nengine = "mysql"\n', 2, ["key 'engine'", "postgres", "mongo"]),
    ('[profiles.a]\nhost = "h"\nstandbys = ["b"]\n', 3, ["standby 'b' is not a profile"]),
    ('[profiles.a]\nhost = "h"\n[profiles.a.x\n', 3, ["not valid TOML"]),
    ('[profiles.a]\nhost = "unterminated\n', 2, ["not valid TOML"]),
    ('[profiles."bad name"]\nhost = "h"\n', 1, ["not a valid profile name"]),
    ('[profiles.snapshot]\nhost = "h"\n', 1, ["is a dbtop command"]),
    ('colour = "red"\n', 1, ["unknown key 'colour'"]),
])
def test_a_wrong_profile_file_is_one_line_naming_file_and_line(home, text, line, fragments):
    path = write_config(home, text)
    with pytest.raises(ProfileError) as info:
        load_config()
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"{path} line {line}: "), message
    for fragment in fragments:
        assert fragment in message
    assert "hunter2" not in message


def test_durations():
    assert parse_duration("1h30m") == timedelta(minutes=90)
    assert parse_duration(90) == timedelta(seconds=90)
    assert parse_duration("2w") == timedelta(days=14)
    with pytest.raises(ValueError):
        parse_duration("fortnight")


def test_a_url_gives_the_fields_and_its_password_stays_apart():
    profile, password = profile_from_url(
        "p", "postgresql+asyncpg://ops:s%40cret@db1:5432,db2:5433/app?sslmode=verify-full&sslrootcert=/ca.pem"
             "&target_session_attrs=read-write")
    assert password.get_secret_value() == "s@cret"
    assert profile.hosts == ["db1:5432", "db2:5433"] and profile.user == "ops" and profile.database == "app"
    assert (profile.tls_mode, profile.ca_file) == ("verify-full", "/ca.pem")
    assert profile.options == {"target_session_attrs": "read-write"}
    assert "s@cret" not in repr(profile) and "s@cret" not in str(profile.as_toml())
    profile, password = profile_from_url("m", "mongodb://ops:pw@m1:27017,m2/admin?replicaSet=rs0&tls=true")
    assert (profile.engine, profile.hosts, profile.tls_mode, profile.options) == (
        "mongo", ["m1:27017", "m2"], "require", {"replicaSet": "rs0"})
    assert password.get_secret_value() == "pw"


# -- passwords: where they come from --------------------------------------------------------------
def test_password_precedence_keyring_then_libpq(home, use_keyring, tmp_path):
    backend = use_keyring(MemoryKeyring())
    profile = Profile(name="p", hosts=["db1"], user="ops", database="app")
    resolved = resolve_profile(profile, environ={})
    assert resolved.password_source is None and resolved.target.password is None

    services = tmp_path / "pg_service.conf"
    services.write_text("[reporting]\nhost=db9\npassword=from-service\n")
    with_service = Profile(name="s", service="reporting", user="ops")
    resolved = resolve_profile(with_service, environ={"PGSERVICEFILE": str(services), "PGPASSWORD": "from-env"})
    assert resolved.password_source == "service file"
    assert resolved.target.password.get_secret_value() == "from-service"
    assert resolved.target.hosts == ["db9"]

    resolved = resolve_profile(profile, environ={"PGPASSWORD": "from-env"})
    assert resolved.password_source == "PGPASSWORD" and resolved.target.password is None  # libpq reads it

    backend.set_password(SERVICE, "s", "from-keyring")
    resolved = resolve_profile(with_service, environ={"PGSERVICEFILE": str(services), "PGPASSWORD": "from-env"})
    assert resolved.password_source == "keyring"
    assert resolved.target.password.get_secret_value() == "from-keyring"
    assert "from-keyring" not in repr(resolved) and "from-keyring" not in resolved.target.label


def test_pgservice_of_the_environment_does_not_leak_into_a_profile(home, use_keyring, tmp_path):
    use_keyring(MemoryKeyring())
    services = tmp_path / "pg_service.conf"
    services.write_text("[elsewhere]\nhost=other\n")
    target = resolve_profile_target(Profile(name="p", hosts=["db1"]))
    assert target.hosts == ["db1"]
    env = {"PGSERVICE": "elsewhere", "PGSERVICEFILE": str(services)}
    assert resolve_profile(Profile(name="p"), environ=env).target.hosts == []


# -- add, use, rename, remove against the real server --------------------------------------------
def add_use_rename_remove(pg, secret_role, monkeypatch, capsys, backend):
    role, password = secret_role
    assert profile_cli("add", "prod", url_of(pg, role), "--password-stdin", "--rpo", "15m",
                       stdin=password + "\n", monkeypatch=monkeypatch) == 0, capsys.readouterr()
    out = capsys.readouterr().out
    assert "saved" in out and "answered: PostgreSQL" in out and password not in out
    assert backend.get_password(SERVICE, "prod") == password
    assert password not in config_path().read_text()
    assert "password" not in config_path().read_text()

    # use: the API the app's picker calls, then the command line
    [profile] = load_profiles()
    target = resolve_profile_target(profile)
    assert target.password.get_secret_value() == password and target.user == role
    assert cli.main(["snapshot", "prod", "--json"]) == 0
    assert f'"current_user":"{role}"' in capsys.readouterr().out
    directory = ProfileDirectory()
    assert directory.entries() == [("prod", f"postgres {role}@127.0.0.1:{pg.port}/postgres")]
    assert directory.collector("prod").target.password.get_secret_value() == password

    assert profile_cli("rename", "prod", "primary") == 0
    assert "keyring entry moved" in capsys.readouterr().out
    assert backend.get_password(SERVICE, "prod") is None
    assert backend.get_password(SERVICE, "primary") == password
    assert cli.main(["snapshot", "primary"]) == 0
    capsys.readouterr()

    assert profile_cli("rm", "primary") == 0
    assert "keyring entry removed" in capsys.readouterr().out
    assert backend.get_password(SERVICE, "primary") is None
    assert load_profiles() == []


def test_add_use_rename_remove_with_a_test_backend(pg, secret_role, home, use_keyring, monkeypatch, capsys):
    backend = use_keyring(MemoryKeyring())
    add_use_rename_remove(pg, secret_role, monkeypatch, capsys, backend)


def test_add_use_rename_remove_with_a_file_backend(pg, secret_role, home, use_keyring, monkeypatch, capsys):
    backend = PlaintextKeyring()
    backend.file_path = str(home / "keyring" / "plain.cfg")
    use_keyring(backend)
    add_use_rename_remove(pg, secret_role, monkeypatch, capsys, backend)
    assert (home / "keyring" / "plain.cfg").exists()


def use_encrypted_keyring(home, use_keyring, monkeypatch) -> list[str]:
    """The encrypted file backend, in `home`, in a terminal that answers every passphrase prompt
    with "pass phrase"; the prompts asked are collected in the list returned."""
    backend = CryptFileKeyring()
    backend.file_path = str(home / "keyring" / "crypt.cfg")
    use_keyring(backend)
    asked: list[str] = []
    monkeypatch.setattr("getpass.getpass", lambda prompt: asked.append(prompt) or "pass phrase")
    monkeypatch.setattr("dbtop.profiles.secret_store.SecretStore._can_prompt", lambda self: True)
    return asked


def test_a_profile_without_a_password_starts_without_creating_an_encrypted_keyring(home, use_keyring, monkeypatch):
    # A trust or .pgpass profile on a machine whose encrypted keyring file does not exist yet: there is
    # nothing to read, so no "New passphrase" prompt stands between the operator and the dashboard.
    asked = use_encrypted_keyring(home, use_keyring, monkeypatch)
    assert SecretStore().get("nopassword") is None
    assert asked == [] and not (home / "keyring" / "crypt.cfg").exists()


def test_add_use_with_the_encrypted_file_backend_leaves_nothing_readable(pg, secret_role, home, use_keyring,
                                                                         monkeypatch, capsys):
    role, password = secret_role
    asked = use_encrypted_keyring(home, use_keyring, monkeypatch)
    assert profile_cli("add", "prod", url_of(pg, role), "--password-stdin",
                       stdin=password + "\n", monkeypatch=monkeypatch) == 0, capsys.readouterr()
    # a new encrypted file: its passphrase asked twice, once per run
    assert [p.split(" ")[0] for p in asked] == ["New", "The"]
    assert cli.main(["snapshot", "prod"]) == 0
    assert len(asked) == 2
    for path in home.rglob("*"):
        if path.is_file():
            assert password.encode() not in path.read_bytes(), path

    # another run: the backend is new and locked; a wrong passphrase is one clear line
    fresh = CryptFileKeyring()
    fresh.file_path = str(home / "keyring" / "crypt.cfg")
    use_keyring(fresh)
    monkeypatch.setattr("getpass.getpass", lambda prompt: "not the passphrase")
    capsys.readouterr()
    assert cli.main(["snapshot", "prod"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("dbtop: wrong passphrase for the encrypted keyring") and err.count("\n") == 1


def test_a_url_with_a_password_is_accepted_once_and_moved_to_the_keyring(pg, secret_role, home, use_keyring, capsys):
    role, password = secret_role
    backend = use_keyring(MemoryKeyring())
    url = f"postgresql://{role}:{password}@127.0.0.1:{pg.port}/postgres"
    assert profile_cli("add", "prod", url) == 0
    captured = capsys.readouterr()
    assert "moved to the keyring" in captured.err and password not in captured.out + captured.err
    assert backend.get_password(SERVICE, "prod") == password
    assert password not in config_path().read_text()


def test_a_wrong_password_in_the_keyring_names_the_profile(pg, secret_role, home, use_keyring, capsys):
    role, password = secret_role
    backend = use_keyring(MemoryKeyring())
    assert profile_cli("add", "prod", url_of(pg, role), "--no-password", "--no-test") == 0
    backend.set_password(SERVICE, "prod", "wrong-" + password)
    capsys.readouterr()
    assert cli.main(["snapshot", "prod"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith(f"dbtop: profile 'prod': password authentication failed for user '{role}'")
    assert "password stored in the keyring" in err and "dbtop profile edit prod --password" in err
    assert password not in err

    # the picker gets the same line when it connects
    import asyncio

    from dbtop.profiles.connecting import ProfileConnectError

    collector = ProfileDirectory().collector("prod")
    with pytest.raises(ProfileConnectError, match="profile 'prod': password authentication failed"):
        asyncio.run(collector.connect())

    # storing the right one fixes it
    backend.set_password(SERVICE, "prod", password)
    assert cli.main(["profile", "test", "prod"]) == 0
    assert "password from the keyring" in capsys.readouterr().out


def test_no_stored_password_prompts_only_when_interactive(pg, secret_role, home, use_keyring, monkeypatch, capsys):
    role, password = secret_role
    use_keyring(MemoryKeyring())
    assert profile_cli("add", "prod", url_of(pg, role), "--no-password", "--no-test") == 0
    capsys.readouterr()
    for command in ("snapshot", "audit"):
        assert cli.main([command, "prod"]) == 2
        err = capsys.readouterr().err
        assert "no password is stored in the keyring for this profile" in err and ".pgpass" in err

    monkeypatch.setattr("dbtop.profiles.connecting.can_prompt", lambda: True)
    monkeypatch.setattr("getpass.getpass", lambda prompt: password)
    assert cli.main(["snapshot", "prod"]) == 0
    assert cli.main(["audit", "prod", "--format", "json"]) == 0
    assert '"overall"' in capsys.readouterr().out

    # ~/.pgpass is libpq's own way, and comes before the prompt
    monkeypatch.setattr("getpass.getpass", lambda prompt: pytest.fail("prompted although ~/.pgpass has it"))
    pgpass = home / "home" / ".pgpass"
    pgpass.write_text(f"127.0.0.1:{pg.port}:*:{role}:{password}\n")
    pgpass.chmod(0o600)
    assert cli.main(["snapshot", "prod"]) == 0


def test_edit_changes_settings_and_password(pg, secret_role, home, use_keyring, monkeypatch, capsys):
    role, password = secret_role
    backend = use_keyring(MemoryKeyring())
    assert profile_cli("add", "prod", url_of(pg, role), "--password-stdin", stdin=password + "\n",
                       monkeypatch=monkeypatch) == 0
    assert profile_cli("add", "replica", url_of(pg, role), "--password-stdin", stdin=password + "\n",
                       monkeypatch=monkeypatch) == 0
    assert profile_cli("edit", "prod", "--standby", "replica", "--retention", "14d", "--theme", "dbtop-light") == 0
    prod = load_config().get("prod")
    assert prod.standbys == ["replica"] and prod.retention == timedelta(days=14) and prod.theme == "dbtop-light"

    # a wrong new password is tested and refused; nothing changes
    capsys.readouterr()
    assert profile_cli("edit", "prod", "--password-stdin", stdin="wrong\n", monkeypatch=monkeypatch) == 2
    assert "nothing was changed" in capsys.readouterr().err
    assert backend.get_password(SERVICE, "prod") == password
    assert profile_cli("edit", "prod", "--forget-password", "--no-test") == 0
    assert backend.get_password(SERVICE, "prod") is None
    assert profile_cli("edit", "prod", "--unset", "theme") == 0
    assert load_config().get("prod").theme is None

    # removing a standby's profile takes it out of the standbys that named it
    assert profile_cli("rm", "replica") == 0
    assert "no longer a standby of prod" in capsys.readouterr().out
    assert load_config().get("prod").standbys == []


def test_comments_in_the_profile_file_survive_a_change(pg, secret_role, home, use_keyring, capsys):
    use_keyring(MemoryKeyring())
    role, _ = secret_role
    path = write_config(home, f"# written by hand\n[profiles.prod]  # the primary\nhost = \"127.0.0.1\"\n"
                              f"port = {pg.port}\nuser = \"{role}\"\n")
    assert profile_cli("edit", "prod", "--rpo", "5m", "--no-test") == 0
    text = path.read_text()
    assert "# written by hand" in text and "# the primary" in text and 'rpo = "5m"' in text


def test_names_that_cannot_be_profiles(home, use_keyring, capsys):
    use_keyring(MemoryKeyring())
    assert profile_cli("add", "demo", "postgresql://u@h/db", "--no-password", "--no-test") == 2
    assert "is a dbtop command" in capsys.readouterr().err
    assert profile_cli("add", "a b", "postgresql://u@h/db", "--no-password", "--no-test") == 2
    assert "not a valid profile name" in capsys.readouterr().err
    assert profile_cli("add", "a", "postgresql://u@h/db", "--no-password", "--no-test") == 0
    assert profile_cli("add", "a", "postgresql://u@h/db", "--no-password", "--no-test") == 2
    assert "already exists" in capsys.readouterr().err


# -- no usable keyring ----------------------------------------------------------------------------
@pytest.mark.parametrize("backend", [fail.Keyring(), null.Keyring()], ids=["fail", "null"])
def test_no_usable_keyring_gives_the_two_ways_out(home, use_keyring, monkeypatch, capsys, backend):
    use_keyring(backend)
    store = SecretStore()
    assert store.headless
    with pytest.raises(HeadlessKeyringError) as info:
        store.set("prod", SecretStr("x"))
    message = str(info.value)
    assert "\n" not in message
    assert "no usable keyring" in message and type(backend).__module__ in message
    assert "dbtop[headless]" in message and "keyrings.cryptfile" in message
    assert ".pgpass" in message and "--no-password" in message

    assert profile_cli("add", "prod", "postgresql://u@h/db", "--password-stdin", stdin="x\n",
                       monkeypatch=monkeypatch) == 2
    assert "no usable keyring" in capsys.readouterr().err
    assert not config_path().exists()
    assert cli.main(["profile", "doctor"]) == 2
    captured = capsys.readouterr()
    assert f"keyring backend: {type(backend).__module__}.Keyring" in captured.out
    assert captured.err.count("\n") == 1 and "dbtop[headless]" in captured.err


def test_the_fail_backend_still_connects_through_pgpass(pg, secret_role, home, use_keyring, capsys):
    role, password = secret_role
    use_keyring(fail.Keyring())
    pgpass = home / "home" / ".pgpass"
    pgpass.write_text(f"127.0.0.1:{pg.port}:*:{role}:{password}\n")
    pgpass.chmod(0o600)
    assert profile_cli("add", "prod", url_of(pg, role), "--no-password") == 0
    assert cli.main(["snapshot", "prod"]) == 0
    assert cli.main(["profile", "rm", "prod"]) == 0
    assert "no keyring here" in capsys.readouterr().out


def test_doctor_round_trip_on_a_working_backend(home, use_keyring, capsys):
    backend = use_keyring(MemoryKeyring())
    assert cli.main(["profile", "doctor"]) == 0
    out = capsys.readouterr().out
    assert "MemoryKeyring" in out and "round trip: ok" in out
    assert backend.entries == {}


def test_a_keyring_that_fails_is_one_line(home, use_keyring):
    class Broken(MemoryKeyring):
        def get_password(self, service, username):
            raise OSError("dbus went away")

    use_keyring(Broken())
    with pytest.raises(SecretStoreError) as info:
        SecretStore().get("prod")
    assert "could not read the password (dbus went away)" in str(info.value)
    assert "dbtop profile doctor" in str(info.value)


def test_list_and_show_never_show_a_secret(home, use_keyring, capsys):
    backend = use_keyring(MemoryKeyring())
    assert profile_cli("add", "prod", "postgresql://ops:topsecret@db1:5432/app", "--no-test") == 0
    assert backend.get_password(SERVICE, "prod") == "topsecret"
    capsys.readouterr()
    assert cli.main(["profile", "list"]) == 0
    assert cli.main(["profile", "show", "prod"]) == 0
    out = capsys.readouterr().out
    assert "topsecret" not in out
    assert "prod  postgres ops@db1:5432/app" in out
    assert "password: in the keyring" in out


def test_an_unknown_name_points_at_profile_list(home, use_keyring, capsys):
    use_keyring(MemoryKeyring())
    assert cli.main(["snapshot", "nosuch"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("dbtop: cannot understand target 'nosuch'") and "dbtop profile list" in err


def test_a_profile_sets_what_the_panels_and_findings_expect(tmp_path):
    from dbtop.profiles.policy import watch_policy

    path = tmp_path / "config.toml"
    path.write_text("""
[profiles.prod]
host = "db1"
backup_dir = "/srv/backups/prod"
rpo = "6h"
retention = "14d"
retention_keep = 5
freshness = { default = "1h", "analytics.daily_sales" = "26h" }
data_age_columns = { "analytics.daily_sales" = "day" }
thresholds = { "connections.high_pct" = 70 }
patroni_url = "http://db1:8008"
failover_max_lag = 30
""")
    policy = watch_policy(load_config(path).get("prod"))
    assert policy.patroni_url == "http://db1:8008" and policy.failover_max_lag_s == 30
    assert policy.profile == "prod" and policy.backup_dir == "/srv/backups/prod"
    assert policy.rpo_s == 6 * 3600 and policy.retention_s == 14 * 86400 and policy.retention_keep == 5
    assert policy.freshness_for("analytics", "daily_sales") == 26 * 3600
    assert policy.freshness_for("public", "other") == 3600
    assert policy.data_age_column_for("analytics", "daily_sales") == "day"
    assert policy.thresholds == {"connections.high_pct": 70}
    defaults = watch_policy(Profile(name="plain"))
    assert defaults.rpo_s == 86400 and defaults.retention_s == 7 * 86400 and defaults.retention_keep == 3
    assert defaults.freshness_for("public", "v") == 4 * 3600 and defaults.backup_dir is None
    assert defaults.patroni_url is None and defaults.failover_max_lag_s == 10


def test_a_profile_names_its_pgbackrest_stanza_config_and_user(tmp_path):
    from dbtop.profiles.policy import watch_policy

    path = tmp_path / "config.toml"
    path.write_text("""
[profiles.prod]
host = "db1"
pgbackrest_stanza = "main"
pgbackrest_config = "/etc/pgbackrest/pgbackrest.conf"
pgbackrest_user = "postgres"
""")
    policy = watch_policy(load_config(path).get("prod"))
    assert (policy.pgbackrest_stanza, policy.pgbackrest_config, policy.pgbackrest_user) == (
        "main", "/etc/pgbackrest/pgbackrest.conf", "postgres")
    assert watch_policy(Profile(name="plain")).pgbackrest_stanza is None
    wrong = {
        'pgbackrest_stanza = "main prod"': "key 'pgbackrest_stanza': 'main prod' is not a pgBackRest stanza name",
        'pgbackrest_stanza = "main"\npgbackrest_config = "pgbackrest.conf"':
            "key 'pgbackrest_config': 'pgbackrest.conf' is not an absolute path: pgBackRest cannot open a relative",
        'pgbackrest_config = "/etc/pgbackrest.conf"': "pgbackrest_config and pgbackrest_user apply to a pgBackRest "
                                                      "stanza: set pgbackrest_stanza too",
        'pgbackrest_stanza = "main"\npgbackrest_user = "Post Gres"': "'Post Gres' is not an OS user name",
    }
    for lines, message in wrong.items():
        path.write_text(f'[profiles.prod]\nhost = "db1"\n{lines}\n')
        with pytest.raises(ProfileError) as raised:
            load_config(path)
        assert message in str(raised.value) and "\n" not in str(raised.value)
