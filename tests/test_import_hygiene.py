"""The forbidden dependencies of DESIGN.md, each checked in a fresh interpreter (as Harlequin does):
import the modules of a layer there and list what they pulled in that the layer must not use, with
the chain of imports that brought it. Plus a static check that tui reaches an engine package only
through engines.registry. The checkers are tested on planted violations."""

from __future__ import annotations

import ast
import importlib
import json
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
DRIVERS = ["asyncpg", "pymongo", "bson", "motor"]
ENGINE_PACKAGES = ["dbtop.engines.postgres", "dbtop.engines.mongo"]

# Runs in the fresh interpreter: imports each module in turn and records, for every module loaded,
# which module imported it, so a violation is reported with its chain.
PROBE = r"""
import importlib, json, sys

modules, forbidden, extra_path = json.loads(sys.argv[1])
sys.path[:0] = extra_path
importer = {}


class Recorder:
    def find_spec(self, name, path=None, target=None):
        if name not in importer:
            frame = sys._getframe(1)
            while frame is not None and (frame.f_code.co_filename.startswith("<frozen")
                                         or frame.f_globals.get("__name__") in (None, __name__, "importlib")):
                frame = frame.f_back
            importer[name] = frame.f_globals.get("__name__") if frame is not None else None
        return None


sys.meta_path.insert(0, Recorder())
for module in modules:
    importlib.import_module(module)


def chain(name):
    links = [name]
    while importer.get(links[-1]) not in (None, "__main__") and len(links) < 30:
        links.append(importer[links[-1]])
    return " <- ".join(links)


bad = sorted(m for m in sys.modules if any(m == f or m.startswith(f + ".") for f in forbidden))
roots = [m for m in bad if not any(m.startswith(other + ".") for other in bad)]
print(json.dumps([chain(m) for m in roots]))
"""


def forbidden_imports(modules: list[str], forbidden: list[str], extra_path: list[str] = ()) -> list[str]:
    """In a fresh interpreter, import `modules` and return each forbidden top module loaded, as
    'forbidden <- importer <- … <- one of modules'."""
    result = subprocess.run([sys.executable, "-c", PROBE, json.dumps([modules, forbidden, list(extra_path)])],
                            capture_output=True, text=True, cwd=REPO, timeout=120)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def modules_of(package: str) -> list[str]:
    """The package and every module below it."""
    found = importlib.import_module(package)
    return [package, *(m.name for m in pkgutil.walk_packages(found.__path__, package + "."))]


# (the layer's modules, what none of them may import, why)
RULES = {
    "engines import no UI, no findings": (
        lambda: modules_of("dbtop.engines"),
        ["textual", "rich", "dbtop.panels", "dbtop.findings", "dbtop.tui"]),
    "the snapshot model imports no driver": (lambda: ["dbtop.engines.snapshot"], DRIVERS),
    "findings and runbooks import no driver, no Textual, no engine package": (
        lambda: [*modules_of("dbtop.findings"), *modules_of("dbtop.runbooks")],
        [*DRIVERS, "textual", *ENGINE_PACKAGES]),
    "panels import no driver, no engine package, no actions": (
        lambda: modules_of("dbtop.panels"), [*DRIVERS, *ENGINE_PACKAGES, "dbtop.actions"]),
    "profiles import no Textual and no tui": (lambda: modules_of("dbtop.profiles"), ["textual", "dbtop.tui"]),
    "the app and the CLI load no engine package before a target is chosen": (
        lambda: ["dbtop.tui.app", "dbtop.tui.cli"], ENGINE_PACKAGES),
    # What the dashboard's start does not need is loaded when it is (start → first data, issue 15):
    "the PostgreSQL collector loads httpx only to ask Patroni's REST API": (
        lambda: ["dbtop.engines.postgres.collector"], ["httpx"]),
    "the dashboard's start loads no keyring (a profile's password is looked up when one is used)": (
        lambda: ["dbtop.tui.commands.dashboard", "dbtop.tui.profile_targets", "dbtop.profiles.resolve"],
        ["keyring"]),
    "the dashboard on a URL or libpq string loads no profile code (the file, its model, the picker's)": (
        lambda: ["dbtop.tui.commands.dashboard", "dbtop.tui.profile_targets"],
        ["dbtop.profiles.config", "dbtop.profiles.resolve", "dbtop.profiles.secret_store"]),
}


@pytest.mark.parametrize("rule", RULES)
def test_forbidden_dependency(rule):
    modules, forbidden = RULES[rule]
    assert forbidden_imports(modules(), forbidden) == []


# -- the static check of tui ---------------------------------------------------------------------

def module_name(path: Path, root: Path, package: str) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join([package, *parts])


def imports_in(source: str, module: str, is_package: bool = False) -> list[tuple[int, list[str]]]:
    """(line, absolute module names) of every import statement in `source`, relative ones resolved;
    `from a import b` gives a and a.b (b may be a module)."""
    found = []
    base_package = module if is_package else module.rsplit(".", 1)[0]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, [alias.name]) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = base_package.rsplit(".", node.level - 1)[0] if node.level > 1 else base_package
                target = f"{base}.{node.module}" if node.module else base
            else:
                target = node.module or ""
            found.append((node.lineno, [target, *(f"{target}.{alias.name}" for alias in node.names)]))
    return found


def engine_package_imports(root: Path, package: str = "dbtop.tui") -> list[str]:
    """`file:line module` for each import of an engine package in the tui sources (the demo command,
    which runs its own PostgreSQL, excepted)."""
    found = []
    for path in sorted(root.rglob("*.py")):
        if path.stem in ("demo", "demo_command"):
            continue
        module = module_name(path, root, package)
        for line, names in imports_in(path.read_text(), module, path.stem == "__init__"):
            bad = [n for n in names if any(n == p or n.startswith(p + ".") for p in ENGINE_PACKAGES)]
            if bad:
                found.append(f"{path.relative_to(root.parent)}:{line} {min(bad, key=len)}")
    return found


def test_tui_reaches_engine_packages_only_through_the_registry():
    assert engine_package_imports(REPO / "tui") == []


# -- the checkers on planted violations ----------------------------------------------------------

def test_the_probe_reports_a_planted_violation_with_its_chain(tmp_path):
    (tmp_path / "planted_engine.py").write_text("import planted_helper\n")
    (tmp_path / "planted_helper.py").write_text("import textual.widgets\n")
    (tmp_path / "planted_clean.py").write_text("import json\n")
    violations = forbidden_imports(["planted_engine"], ["textual"], [str(tmp_path)])
    assert violations == ["textual <- planted_helper <- planted_engine"]
    assert forbidden_imports(["planted_clean"], ["textual"], [str(tmp_path)]) == []


def test_the_static_check_finds_engine_imports_however_written(tmp_path):
    tui = tmp_path / "tui"
    (tui / "commands").mkdir(parents=True)
    (tui / "__init__.py").write_text("")
    (tui / "commands" / "__init__.py").write_text("from ...engines import postgres\n")
    (tui / "screen.py").write_text("from ..engines.registry import collector_for\nfrom ..engines.snapshot import Snapshot\n")
    (tui / "probe.py").write_text("def f():\n    from ..engines.postgres.connect import open_connection\n")
    (tui / "absolute.py").write_text("import dbtop.engines.mongo.collector\n")
    (tui / "commands" / "views.py").write_text("from ...engines.postgres import refresh_log\n")
    (tui / "commands" / "demo.py").write_text("from ...engines.postgres.cluster import LocalCluster\n")
    assert engine_package_imports(tui) == [
        "tui/absolute.py:1 dbtop.engines.mongo.collector",
        "tui/commands/__init__.py:1 dbtop.engines.postgres",
        "tui/commands/views.py:1 dbtop.engines.postgres",
        "tui/probe.py:2 dbtop.engines.postgres.connect",
    ]


def test_a_url_or_libpq_target_is_resolved_without_the_profiles_code():
    """The dashboard's start on a URL: make_collector must not load what only a profile needs."""
    probe = ("import json, sys\n"
             "from dbtop.tui.commands.common import make_collector\n"
             "from dbtop.tui.profile_targets import ProfileDirectory\n"
             "for target in ('postgresql://app@db1.example:5432/app', 'host=db1.example dbname=app'):\n"
             "    make_collector(target, {})\n"
             "ProfileDirectory()\n"
             "print(json.dumps(sorted(m for m in sys.modules if m.startswith(('dbtop.profiles.config',\n"
             "      'dbtop.profiles.resolve', 'dbtop.profiles.secret_store', 'keyring')))))\n")
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == []
