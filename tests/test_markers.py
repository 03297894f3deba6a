"""The test layers: `server`, `tmux` and `slow` are registered, applied by tests/conftest.py, and
`-m "not server and not tmux"` leaves the unit layer."""

from __future__ import annotations

import ast
import subprocess
import sys
import tomllib
from pathlib import Path

from .conftest import SLOW, layer_markers, names_used

TESTS = Path(__file__).parent


def test_markers_are_registered_and_checked_strictly():
    config = tomllib.loads((TESTS.parent / "pyproject.toml").read_text())["tool"]["pytest"]["ini_options"]
    assert {line.split(":", 1)[0] for line in config["markers"]} == {"server", "tmux", "slow"}
    assert "--strict-markers" in config["addopts"].split()


def test_every_slow_entry_names_a_test_that_exists():
    tests: set[str] = set()
    for path in TESTS.glob("test_*.py"):
        tests.add(path.stem)
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name.startswith("test_"):
                tests.add(f"{path.stem}::{node.name}")
    assert SLOW - tests == set()


def test_a_test_is_in_the_layer_of_the_fixtures_and_helpers_it_uses():
    def starts_a_cluster():
        def inner():
            return LocalCluster()  # noqa: F821 - only its name is read

        return inner

    assert layer_markers("test_x", "t", {"pg_target", "pg", "tmp_path"}, set()) == {"server"}
    assert layer_markers("test_x", "t", {"tmp_path"}, names_used(starts_a_cluster.__code__)) == {"server"}
    assert layer_markers("test_x", "t", {"terminal"}, set()) == {"tmux"}
    assert layer_markers("test_e2e_tmux", "t", {"pg"}, set()) == {"server", "tmux"}
    assert layer_markers("test_rules_catalog", "t", {"pg"}, set()) == {"server", "slow"}
    assert layer_markers("test_fakes", "t", {"tmp_path"}, {"FakeCollector"}) == set()


def collected(*args: str) -> set[str]:
    result = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", *args],
                            capture_output=True, text=True, cwd=TESTS.parent, timeout=120)
    assert result.returncode in (0, 5), result.stdout + result.stderr  # 5: nothing collected
    return {line.split("::")[0] for line in result.stdout.splitlines() if "::" in line}


def test_the_unit_layer_leaves_out_server_and_tmux_tests():
    files = ["tests/test_demo.py", "tests/test_e2e_tmux.py", "tests/test_rules_live.py", "tests/test_rules_unit.py"]
    assert collected("-m", "not server and not tmux", *files) == {"tests/test_rules_unit.py"}
    assert collected("-m", "server", *files) == {"tests/test_demo.py", "tests/test_e2e_tmux.py",
                                                 "tests/test_rules_live.py"}
