"""The command line: help, version, and bad input as one line on stderr with exit status 2."""

import json
import subprocess

import pytest

from dbtop.engines.postgres.cluster import free_port
from dbtop.engines.postgres.connect import unsupported_version_message
from dbtop.profiles.target import resolve_target

from .conftest import dbtop_command


def run(*args, env=None, timeout=30):
    return subprocess.run([*dbtop_command(), *args], capture_output=True, text=True, timeout=timeout, env=env)


def assert_one_line_error(result, *fragments):
    assert result.returncode == 2, result
    assert result.stdout == ""
    assert result.stderr.startswith("dbtop: ")
    assert result.stderr.count("\n") == 1, result.stderr
    assert "Traceback" not in result.stderr
    for fragment in fragments:
        assert fragment in result.stderr


def test_help_documents_every_command():
    out = run("--help").stdout
    for words in ("dbtop [TARGET]", "dbtop snapshot", "dbtop demo", "--version", "PGHOST", "exit status"):
        assert words in out
    snapshot_help = run("snapshot", "--help").stdout
    for words in ("--json", "--interval", "--count", "--statement-timeout", "--lock-timeout"):
        assert words in snapshot_help
    assert "--rows" in run("demo", "--help").stdout


def test_version():
    result = run("--version")
    assert result.returncode == 0 and result.stdout.startswith("dbtop 0.")


def test_version_imports_nothing_heavy():
    """`dbtop --version` prints what argparse's version action prints, without importing the
    dashboard's libraries (they took half a second)."""
    import sys

    probe = ("import sys; from dbtop.tui.cli import main; main(['--version']); "
             "print(sorted(m for m in ('textual', 'pydantic', 'asyncpg', 'rich') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=30)
    version_line, heavy = result.stdout.splitlines()
    # the same line as the dashboard's own --version, given among other options
    assert version_line == run("--interval", "2", "--version").stdout.strip() and version_line.startswith("dbtop 0.")
    assert heavy == "[]"
    assert run("--help", "--version").stdout.startswith("usage: dbtop")  # argparse still decides the rest


def test_dashboard_looks_up_its_version_only_for_version(monkeypatch, capsys):
    """Looking the version up scans the installed distributions (~20 ms): the dashboard's every
    start paid it, to build its --version option."""
    from dbtop.tui import version
    from dbtop.tui.commands.dashboard import app_parser

    looked_up = []
    monkeypatch.setattr(version, "package_version", lambda: looked_up.append(True) or "9.9")
    parser = app_parser()
    parser.parse_args(["--interval", "3", "db1"])
    assert looked_up == []
    with pytest.raises(SystemExit) as exited:
        parser.parse_args(["db1", "--version"])
    assert exited.value.code == 0 and looked_up == [True] and capsys.readouterr().out == "dbtop 9.9\n"


@pytest.fixture(scope="module")
def password_role(pg):
    pg.psql("DROP ROLE IF EXISTS app_user; CREATE ROLE app_user LOGIN PASSWORD 'right-horse-battery'")
    return "app_user"


def test_one_snapshot_as_json(pg):
    result = run("snapshot", pg.dsn(), "--json")
    assert result.returncode == 0, result.stderr
    [line] = result.stdout.splitlines()
    snap = json.loads(line)
    assert snap["schema_version"] == 1 and snap["reachable"] and snap["server"]["version_num"] >= 120000
    # Scripts read this document: fields are only ever added within a schema version.
    first_fields = {"schema_version", "sequence", "taken_at", "target", "engine", "reachable", "error", "interval_s",
                    "server", "connections_used", "sessions", "blocking", "statements", "activity", "replication",
                    "parts", "cost"}
    assert first_fields <= set(snap)
    assert snap["views"]["views"] == [] and "refresh_log_installed" in snap["views"]
    assert snap["backups"]["rpo_s"] == 86400 and snap["backups"]["archiving"]["archive_mode"] == "off"
    assert snap["catalog"]["objects_cap"] == 2000 and isinstance(snap["catalog"]["tables"], list)
    # complete from the first snapshot (only the dashboard's first poll leaves parts for the next one)
    assert snap["statements"]["extension_version"] and snap["manager"] is not None
    assert all(part["available"] for part in snap["parts"].values()), snap["parts"]


def test_count_and_interval_give_rates_from_the_second_snapshot(pg):
    result = run("snapshot", pg.dsn(), "--json", "--count", "2", "--interval", "0.5")
    first, second = (json.loads(line) for line in result.stdout.splitlines())
    assert first["activity"]["transactions_per_s"] is None
    assert second["activity"]["transactions_per_s"] is not None
    assert second["sequence"] == 2


def test_target_from_libpq_environment(pg):
    import os

    env = dict(os.environ, PGHOST=str(pg.socket_dir), PGPORT=str(pg.port), PGUSER="postgres", PGDATABASE="postgres")
    result = run("snapshot", "--json", env=env)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["server"]["database"] == "postgres"


def test_url_with_password_over_tcp(pg, password_role):
    url = f"postgresql+asyncpg://app_user:right-horse-battery@127.0.0.1:{pg.port}/postgres"
    result = run("snapshot", url, "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["server"]["current_user"] == "app_user"


def test_wrong_password(pg, password_role):
    result = run("snapshot", f"postgresql://app_user:wrong-horse@127.0.0.1:{pg.port}/postgres")
    assert_one_line_error(result, "password authentication failed for user 'app_user'")
    assert "wrong-horse" not in result.stderr


def test_unreachable_host():
    result = run("snapshot", f"postgresql://someone@127.0.0.1:{free_port()}/db")
    assert_one_line_error(result, "connection refused", "is the server running")


def test_unknown_database(pg):
    result = run("snapshot", pg.dsn(database="no_such_db"))
    assert_one_line_error(result, "database 'no_such_db' does not exist")


def test_url_that_does_not_parse():
    assert_one_line_error(run("snapshot", "postgresql://host:notaport/db"), "cannot parse URL")
    assert_one_line_error(run("snapshot", "mysql://host/db"), "unsupported URL scheme")
    assert_one_line_error(run("snapshot", "host=x bogus=1"), "unknown connection option 'bogus'")
    assert_one_line_error(run("snapshot", "host='unterminated"), "unterminated")


def test_bad_arguments_exit_2():
    result = run("snapshot", "--count", "zero")
    assert result.returncode == 2 and "whole number" in result.stderr


def test_app_refuses_unreachable_target_before_drawing_anything():
    result = run(f"postgresql://someone@127.0.0.1:{free_port()}/db")
    assert_one_line_error(result, "connection refused")


def test_server_older_than_12_is_refused_with_what_to_do():
    # No server older than 12 can be installed here; the check runs on the version the server
    # reports at connect time, and this is the line it prints.
    message = unsupported_version_message(resolve_target("host=db1 user=u dbname=d", {}), "11.22")
    assert message == ("u@db1:5432/d runs PostgreSQL 11.22, which dbtop does not support: "
                       "it needs PostgreSQL 12 or newer (12 to 17 are supported)")


@pytest.mark.parametrize("value", ["nan", "inf", "NaN", "1e999"])
def test_an_interval_that_is_not_a_finite_number_is_refused(value):
    for args in (("snapshot", "host=x", "--count", "2", "--interval", value), ("--interval", value, "host=x"),
                 ("snapshot", "host=x", "--statement-timeout", value)):
        result = run(*args, timeout=10)
        assert result.returncode == 2, (args, result)
        assert "is not a number of seconds greater than 0" in result.stderr


def test_options_before_the_command_go_to_the_command(pg):
    result = run("--interval", "0.3", "snapshot", pg.dsn(), "--json", "--count", "2")
    assert result.returncode == 0, result.stderr
    assert [json.loads(line)["sequence"] for line in result.stdout.splitlines()] == [1, 2]
    assert run("--json", "snapshot", pg.dsn()).returncode == 0
    # one the command does not take is named by the command's own usage line
    result = run("--theme", "dbtop-16", "snapshot", pg.dsn())
    assert result.returncode == 2 and "dbtop snapshot" in result.stderr and "--theme" in result.stderr


def test_help_names_every_command_and_exit_status():
    out = run("--help").stdout
    assert "uninstall-refresh-log" in out
    assert "3 audit --fail-on" in " ".join(out.split())
    snapshot_help = " ".join(run("snapshot", "--help").stdout.split())
    assert "Without --json each snapshot is one line of text" in snapshot_help
    assert "exit status: 0" in snapshot_help
    audit_help = " ".join(run("audit", "--help").stdout.split())
    assert "exit 3 when a finding" in audit_help
