"""The package layout and the dependency direction DESIGN.md asks for."""

import subprocess
import sys
from importlib import import_module


def test_top_level_packages_install_under_the_dbtop_namespace():
    for name in ("tui", "panels", "actions", "themes", "engines", "findings", "runbooks", "profiles"):
        module = import_module(f"dbtop.{name}")
        assert module.__name__ == f"dbtop.{name}"
    import dbtop

    assert not hasattr(dbtop, "__file__") or dbtop.__file__ is None  # a namespace, no dbtop/__init__.py


def test_engines_do_not_import_textual():
    code = ("import sys; import dbtop.engines.postgres.collector, dbtop.engines.postgres.cluster, "
            "dbtop.engines.blocking, dbtop.engines.base; print('textual' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_sql_files_are_shipped_and_chosen_by_version():
    from dbtop.engines.postgres.queries import sql, statements_sql

    assert "query_id" in sql("activity", 14) and "NULL::bigint AS query_id" in sql("activity", 13)
    assert "waitstart" in sql("locks", 17) and "waitstart" not in sql("locks", 12)
    assert "current_setting('reserved_connections')" not in sql("server_facts", 15)
    assert "current_setting('reserved_connections')" in sql("server_facts", 16)
    assert "total_time AS" in statements_sql("1.7")
    assert "total_exec_time" in statements_sql("1.8") and "s.toplevel" not in statements_sql("1.8")
    assert "s.toplevel" in statements_sql("1.10")
