"""Profiles through the installed `dbtop`, as the operator uses it: `dbtop profile add`, then
`dbtop NAME`, against the test server as a role whose password scram-sha-256 checks.

Every run gets its own HOME, XDG_CONFIG_HOME and XDG_DATA_HOME, and chooses a file keyring
backend with PYTHON_KEYRING_BACKEND: the developer's keyring is never touched. Passwords go in
on standard input, never on a command line."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import time
from pathlib import Path

import pytest

from .conftest import dbtop_command
from .test_e2e_tmux import Terminal

CRYPTFILE = "keyrings.cryptfile.cryptfile.CryptFileKeyring"
PLAINTEXT_FILE = "keyrings.cryptfile.file.PlaintextKeyring"


@pytest.fixture(scope="module")
def secret_role(pg):
    password = "pw-" + secrets.token_urlsafe(12)
    pg.psql(f"DROP ROLE IF EXISTS profile_cli; CREATE ROLE profile_cli LOGIN PASSWORD '{password}';"
            "GRANT pg_monitor TO profile_cli")
    rule = pg.psql("SELECT auth_method FROM pg_hba_file_rules WHERE type = 'host' AND address = '127.0.0.1' "
                   "AND ('all' = ANY(user_name) OR 'profile_cli' = ANY(user_name)) ORDER BY line_number LIMIT 1")
    assert rule == "scram-sha-256"
    return "profile_cli", password


class Operator:
    """Runs the installed dbtop in a home of its own."""

    def __init__(self, root: Path, backend: str, **extra_env: str):
        self.root = root
        self.home = root / "home"
        self.home.mkdir(parents=True, exist_ok=True)
        env = {k: v for k, v in os.environ.items()
               if not k.startswith("PG") and k not in ("DBTOP_CONFIG", "KEYRING_CRYPTFILE_PASSWORD")}
        env.update(HOME=str(self.home), XDG_CONFIG_HOME=str(root / "config"), XDG_DATA_HOME=str(root / "data"),
                   PYTHON_KEYRING_BACKEND=backend, **extra_env)
        self.env = env

    @property
    def config_file(self) -> Path:
        return self.root / "config" / "dbtop" / "config.toml"

    def run(self, *args: str, stdin: str | None = None, timeout: float = 60) -> subprocess.CompletedProcess:
        return subprocess.run([*dbtop_command(), *args], capture_output=True, text=True, timeout=timeout,
                              env=self.env, input=stdin if stdin is not None else "")

    def files_containing(self, secret: str) -> list[Path]:
        return [p for p in self.root.rglob("*") if p.is_file() and secret.encode() in p.read_bytes()]


def assert_one_line_error(result, *fragments):
    assert result.returncode == 2, result
    assert result.stderr.startswith("dbtop: "), result.stderr
    assert result.stderr.count("\n") == 1, result.stderr
    assert "Traceback" not in result.stderr
    for fragment in fragments:
        assert fragment in result.stderr, result.stderr


def test_add_then_connect_with_nothing_secret_on_disk(pg, secret_role, tmp_path):
    role, password = secret_role
    operator = Operator(tmp_path, CRYPTFILE, KEYRING_CRYPTFILE_PASSWORD="keyring passphrase")
    url = f"postgresql://{role}@127.0.0.1:{pg.port}/postgres"
    added = operator.run("profile", "add", "prod-primary", url, "--password-stdin", stdin=password + "\n")
    assert added.returncode == 0, added.stderr
    assert "saved" in added.stdout and "PostgreSQL" in added.stdout

    result = operator.run("snapshot", "prod-primary", "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["server"]["current_user"] == role

    assert operator.config_file.is_file()
    assert (tmp_path / "data" / "python_keyring" / "cryptfile_pass.cfg").is_file()
    assert operator.files_containing(password) == []  # the keyring file is encrypted
    assert "password" not in operator.config_file.read_text()


def test_profile_commands_with_a_file_keyring(pg, secret_role, tmp_path):
    role, password = secret_role
    operator = Operator(tmp_path, PLAINTEXT_FILE)
    url = f"postgresql://{role}@127.0.0.1:{pg.port}/postgres"
    assert operator.run("profile", "add", "prod", url, "--password-stdin", "--rpo", "15m",
                        stdin=password + "\n").returncode == 0
    assert operator.run("profile", "add", "replica", url, "--password-stdin",
                        stdin=password + "\n").returncode == 0
    assert operator.run("profile", "edit", "prod", "--standby", "replica").returncode == 0

    listed = operator.run("profile", "list")
    assert listed.returncode == 0
    assert f"prod     postgres {role}@127.0.0.1:{pg.port}/postgres  standbys replica" in listed.stdout
    shown = operator.run("profile", "show", "prod")
    assert "rpo: 15m" in shown.stdout and "password: in the keyring" in shown.stdout
    tested = operator.run("profile", "test", "prod")
    assert tested.returncode == 0 and "password from the keyring" in tested.stdout
    for result in (listed, shown, tested):
        assert password not in result.stdout + result.stderr

    renamed = operator.run("profile", "rename", "replica", "standby1")
    assert renamed.returncode == 0 and "keyring entry moved" in renamed.stdout
    assert 'standbys = ["standby1"]' in operator.config_file.read_text()
    assert operator.run("snapshot", "standby1").returncode == 0
    assert_one_line_error(operator.run("snapshot", "replica"), "cannot understand target 'replica'",
                          "dbtop profile list")

    removed = operator.run("profile", "rm", "standby1")
    assert removed.returncode == 0 and "keyring entry removed" in removed.stdout
    keyring_file = tmp_path / "data" / "python_keyring" / "keyring_pass.cfg"
    assert "standby1" not in keyring_file.read_text() and "prod" in keyring_file.read_text()

    doctor = operator.run("profile", "doctor")
    assert doctor.returncode == 0
    assert f"keyring backend: {PLAINTEXT_FILE}" in doctor.stdout and "round trip: ok" in doctor.stdout


def test_a_wrong_stored_password_names_the_profile(pg, secret_role, tmp_path):
    role, password = secret_role
    operator = Operator(tmp_path, PLAINTEXT_FILE)
    url = f"postgresql://{role}@127.0.0.1:{pg.port}/postgres"
    assert operator.run("profile", "add", "prod", url, "--password-stdin", "--no-test",
                        stdin="not-" + password + "\n").returncode == 0
    for args in (("snapshot", "prod"), ("prod",), ("profile", "test", "prod")):
        result = operator.run(*args)
        assert_one_line_error(result, "profile 'prod': password authentication failed",
                              "password stored in the keyring", "dbtop profile edit prod --password")
        assert password not in result.stderr
    fixed = operator.run("profile", "edit", "prod", "--password-stdin", stdin=password + "\n")
    assert fixed.returncode == 0 and "new password stored" in fixed.stdout
    assert operator.run("snapshot", "prod").returncode == 0


def test_the_fail_backend_gives_the_headless_message(pg, secret_role, tmp_path):
    role, password = secret_role
    operator = Operator(tmp_path, "keyring.backends.fail.Keyring")
    url = f"postgresql://{role}@127.0.0.1:{pg.port}/postgres"
    result = operator.run("profile", "add", "prod", url, "--password-stdin", stdin=password + "\n")
    assert_one_line_error(result, "no usable keyring", "keyring.backends.fail.Keyring", "dbtop[headless]",
                          CRYPTFILE, ".pgpass")
    assert not operator.config_file.exists()
    doctor = operator.run("profile", "doctor")
    assert doctor.returncode == 2 and "keyring backend: keyring.backends.fail.Keyring" in doctor.stdout
    assert doctor.stderr.count("\n") == 1 and "dbtop[headless]" in doctor.stderr

    # the other way out: libpq's own password file
    pgpass = operator.home / ".pgpass"
    pgpass.write_text(f"127.0.0.1:{pg.port}:*:{role}:{password}\n")
    pgpass.chmod(0o600)
    assert operator.run("profile", "add", "prod", url, "--no-password").returncode == 0
    assert operator.run("snapshot", "prod").returncode == 0


@pytest.mark.parametrize("text, line, fragment", [
    ('[profiles.prod]\nhost = "h"\npassword = "hunter2"\n', 3, "holds a password"),
    ('[profiles.prod]\nhost = "h"\nhots = "x"\n', 3, "unknown key"),
    ('[profiles.prod]\nhost = "h"\nport = "x"\n', 3, "valid integer"),
    ('[profiles.prod]\nhost = "h"\nport = \n', 3, "not valid TOML"),
])
def test_a_wrong_profile_file_is_one_line(tmp_path, pg, text, line, fragment):
    operator = Operator(tmp_path, PLAINTEXT_FILE)
    operator.config_file.parent.mkdir(parents=True)
    operator.config_file.write_text(text)
    for args in (("prod",), ("snapshot", "prod"), ("profile", "list")):
        result = operator.run(*args)
        assert_one_line_error(result, f"{operator.config_file} line {line}: ", fragment)
        assert "hunter2" not in result.stderr
    # a URL does not read the profile file
    assert operator.run("snapshot", pg.dsn()).returncode == 0


def descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    found, queue = [], [pid]
    while queue:
        for child in children.get(queue.pop(), []):
            found.append(child)
            queue.append(child)
    return found


def test_dbtop_name_in_a_terminal_asks_the_keyring_passphrase_once_and_connects(pg, secret_role, tmp_path):
    role, password = secret_role
    operator = Operator(tmp_path, CRYPTFILE, KEYRING_CRYPTFILE_PASSWORD="keyring passphrase")
    url = f"postgresql://{role}@127.0.0.1:{pg.port}/postgres"
    assert operator.run("profile", "add", "prod-primary", url, "--password-stdin",
                        stdin=password + "\n").returncode == 0
    assert operator.run("profile", "add", "reporting", pg.dsn(), "--no-password").returncode == 0

    # in the terminal the passphrase is typed, not taken from the environment
    env = {k: v for k, v in operator.env.items() if k != "KEYRING_CRYPTFILE_PASSWORD"}
    settings = [f"{k}={env[k]}" for k in ("HOME", "XDG_CONFIG_HOME", "XDG_DATA_HOME", "PYTHON_KEYRING_BACKEND")]
    term = Terminal(tmp_path, ["env", "-u", "KEYRING_CRYPTFILE_PASSWORD", *settings, *dbtop_command(),
                               "prod-primary"], size=(120, 40))
    try:
        term.wait_for("Passphrase of the encrypted keyring")
        term.keys("keyring passphrase", "Enter")
        screen = term.wait_for("[prod-primary]", f"{role}@127.0.0.1:{pg.port}/postgres", timeout=30)
        assert "keyring passphrase" not in screen and password not in screen

        pane = subprocess.run(["tmux", "-L", term.socket, "list-panes", "-t", term.name, "-F", "#{pane_pid}"],
                              capture_output=True, text=True, check=True).stdout.split()[0]
        processes = descendants(int(pane))
        assert processes
        for pid in processes:
            for part in ("cmdline", "environ"):
                try:
                    data = Path(f"/proc/{pid}/{part}").read_bytes()
                except OSError:
                    continue
                assert password.encode() not in data, (pid, part)

        term.keys(":")  # the profile picker offers the profiles
        term.wait_for("reporting", "connect to a profile")
        term.keys("Escape")
        time.sleep(0.3)
        term.keys("q")
        assert term.exit_status() == 0
    finally:
        term.close()
    assert operator.files_containing(password) == []
