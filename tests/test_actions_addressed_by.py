"""Every finding that names a dbtop action (addressed_by="action:…") names one that exists, and
carries what to plan it with (action_params) in the action's own parameter names."""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil

from dbtop.actions.registry import ACTIONS
from dbtop.findings import rules
from dbtop.findings.model import Finding

# Actions a finding may name before they are registered (none now); the test below fails as soon as
# one of them is registered, so that this list is emptied then.
PENDING: set[str] = set()
PARAMS = {"terminate-session": {"pids"}, "cancel-query": {"pids"}, "refresh-view": {"view"}, "vacuum": {"table"},
          "analyze": {"table"}, "vacuum-analyze": {"table"}, "drop-index": {"index"}, "reindex": {"index"},
          "create-index": {"table", "columns"}, "drop-slot": {"slot"}, "verify-backup": {"name"}}


def named_actions() -> list[tuple[str, str, int, set[str] | None]]:
    """(rule module, action, line, action_params' keys or None) for every addressed_by="action:…"."""
    found = []
    for module in pkgutil.iter_modules(rules.__path__, rules.__name__ + "."):
        tree = ast.parse(inspect.getsource(importlib.import_module(module.name)))
        for call in ast.walk(tree):
            if not isinstance(call, ast.Call):
                continue
            keywords = {k.arg: k.value for k in call.keywords}
            by = keywords.get("addressed_by")
            if isinstance(by, ast.Constant) and isinstance(by.value, str) and by.value.startswith("action:"):
                params = keywords.get("action_params")
                keys = {k.value for k in params.keys} if isinstance(params, ast.Dict) else None
                found.append((module.name.rsplit(".", 1)[1], by.value.removeprefix("action:"), call.lineno, keys))
    return found


def test_every_action_a_finding_names_exists():
    named = named_actions()
    assert len(named) >= 15  # the walk sees the rules
    missing = [f"findings/rules/{module}.py:{line} names action:{action}, which dbtop does not have"
               for module, action, line, _ in named if action not in ACTIONS and action not in PENDING]
    assert missing == []
    assert not PENDING & set(ACTIONS), "registered now: remove them from PENDING"


def test_findings_that_name_an_action_carry_its_parameters():
    wrong = [f"findings/rules/{module}.py:{line}: action:{action} with action_params {keys}"
             for module, action, line, keys in named_actions()
             if action in PARAMS and not (keys and keys <= PARAMS[action] and keys & PARAMS[action])]
    assert wrong == []


def test_action_params_default_to_empty_and_round_trip():
    finding = Finding(id="x", rule="x", area="performance", severity="high", title="t", impact="i", fix="f",
                      addressed_by="action:terminate-session", action_params={"pids": (1, 2)})
    assert Finding.model_validate_json(finding.model_dump_json()).action_params == {"pids": (1, 2)}
    assert Finding(id="x", rule="x", area="performance", severity="high", title="t", impact="i",
                   fix="f").action_params == {}
