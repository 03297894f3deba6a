"""Which engine serves a target. Engine packages are imported here, lazily, by name: the app and the
commands reach an engine only through this module, so a PostgreSQL session never loads MongoDB's
driver and the other way round."""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING

from .errors import EngineUnavailable

if TYPE_CHECKING:
    from ..profiles.target import Target
    from .base import Collector

# engine name -> (module, collector class), relative to this package.
ENGINES: dict[str, tuple[str, str]] = {
    "postgres": (".postgres.collector", "PostgresCollector"),
    "mongo": (".mongo.collector", "MongoCollector"),
}
# (engine name, operation) -> (module, function): what the commands do besides monitoring.
#   probe(target) -> str                          connect once and say what answered
#   refresh_log(target, **timeouts) -> session    install or remove the views' refresh log
OPERATIONS: dict[tuple[str, str], tuple[str, str]] = {
    ("postgres", "probe"): (".postgres.connect", "probe"),
    ("postgres", "refresh_log"): (".postgres.refresh_log", "open_refresh_log"),
    ("mongo", "probe"): (".mongo.connect", "probe"),
}


def engine_names() -> tuple[str, ...]:
    return tuple(ENGINES)


def collector_class(engine: str) -> type[Collector]:
    """The collector class of `engine`; raises EngineUnavailable with a one-line reason."""
    try:
        module_name, class_name = ENGINES[engine]
    except KeyError:
        raise EngineUnavailable(unsupported_engine_message(engine)) from None
    return getattr(import_module(module_name, __package__), class_name)


def collector_for(target: Target, **options) -> Collector:
    """A new, unconnected collector for the target's engine."""
    try:
        cls = collector_class(target.engine)
    except EngineUnavailable as exc:
        raise EngineUnavailable(f"{target.label}: {exc}") from None
    return cls(target, **options)


def operation(target: Target, name: str):
    """The target's engine's function for operation `name`; raises EngineUnavailable when the engine
    cannot do it."""
    if target.engine not in ENGINES:
        raise EngineUnavailable(f"{target.label}: {unsupported_engine_message(target.engine)}")
    try:
        module_name, function_name = OPERATIONS[(target.engine, name)]
    except KeyError:
        raise EngineUnavailable(f"{target.label}: dbtop cannot {name.replace('_', ' ')} on "
                                f"{target.engine} targets") from None
    return getattr(import_module(module_name, __package__), function_name)


def unsupported_engine_message(engine: str) -> str:
    return f"dbtop has no engine named {engine!r}; it knows {', '.join(ENGINES)}"
