"""Schema design: primary keys, ON DELETE rules that disagree, NOT VALID constraints, unlogged
tables, disabled triggers."""

from __future__ import annotations

from collections.abc import Iterator

from ...engines.snapshot import ForeignKeyFacts, Snapshot
from ..engine import CATALOG_ONLY, Thresholds, catalog_sections, rule
from ..model import Evidence, Finding, Severity
from ...engines.quoting import qualified, quote_ident

BLOCKING_RULES = {"RESTRICT", "NO ACTION"}


@rule(reads=CATALOG_ONLY)
def tables_without_primary_key(snapshot: Snapshot, t: Thresholds) -> Iterator[Finding]:
    catalog = catalog_sections(snapshot, "tables")
    for table in catalog.tables if catalog else []:
        if table.has_primary_key:
            continue
        yield Finding(
            id=f"schema.no_primary_key:{table.qualified_name}", rule="schema.no_primary_key", area="schema",
            severity=Severity.MEDIUM,
            title=f"Table {table.qualified_name} has no primary key",
            evidence=[Evidence(subject=table.qualified_name, detail=f"{table.live_rows:,} rows, no PRIMARY KEY")],
            impact="Rows cannot be identified reliably: duplicates creep in, logical replication cannot replicate "
                   "its updates and deletes, and ORMs and tools misbehave.",
            fix="Add a primary key (an existing unique NOT NULL column, or a new identity column).",
            statement=f"ALTER TABLE {qualified(table.schema_name, table.name)} "
                      "ADD COLUMN id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY;")


@rule(reads=CATALOG_ONLY)
def mixed_on_delete(snapshot: Snapshot, t: Thresholds) -> Iterator[Finding]:
    catalog = catalog_sections(snapshot, "foreign_keys")
    by_target: dict[tuple[str, str], list[ForeignKeyFacts]] = {}
    for fk in catalog.foreign_keys if catalog else []:
        by_target.setdefault((fk.referenced_schema, fk.referenced_table), []).append(fk)
    for (schema, table), keys in by_target.items():
        rules = {fk.on_delete for fk in keys}
        if "CASCADE" not in rules or not rules & BLOCKING_RULES:
            continue
        yield Finding(
            id=f"schema.mixed_on_delete:{schema}.{table}", rule="schema.mixed_on_delete", area="schema",
            severity=Severity.HIGH,
            title=f"Foreign keys to {schema}.{table} mix ON DELETE CASCADE with "
                  f"{' and '.join(sorted(rules & BLOCKING_RULES))}",
            evidence=[Evidence(subject=f"{fk.schema_name}.{fk.table}.{fk.name}",
                               detail=f"({', '.join(fk.columns)}) ON DELETE {fk.on_delete}") for fk in keys],
            impact=f"Deleting a row of {table} silently deletes the rows of some tables and is refused because of "
                   "others: half the application expects deletes to clean up, half expects them to fail, and a "
                   "cascade can be stopped midway by a restricting key.",
            fix="Decide one policy for the table's dependents (usually RESTRICT, with explicit deletes, or CASCADE "
                "for owned children only) and change the constraints that disagree.",
            addressed_by="runbook:foreign-key-policy")


@rule(reads=CATALOG_ONLY)
def not_valid_constraints(snapshot: Snapshot, t: Thresholds) -> Iterator[Finding]:
    catalog = catalog_sections(snapshot, "constraints_not_valid")
    for c in catalog.constraints_not_valid if catalog else []:
        kind = "foreign key" if c.kind == "f" else "check constraint"
        yield Finding(
            id=f"schema.not_valid_constraint:{c.schema_name}.{c.table}.{c.name}", rule="schema.not_valid_constraint",
            area="schema", severity=Severity.MEDIUM,
            title=f"The {kind} {c.name} on {c.schema_name}.{c.table} is NOT VALID",
            evidence=[Evidence(subject=c.name, detail=c.definition)],
            impact="Existing rows were never checked against it: some may violate it, and the planner cannot rely "
                   "on it.",
            fix="Validate it (takes only a SHARE UPDATE EXCLUSIVE lock); fix the rows it reports first.",
            statement=f"ALTER TABLE {qualified(c.schema_name, c.table)} VALIDATE CONSTRAINT {quote_ident(c.name)};")


@rule(reads=CATALOG_ONLY)
def unlogged_tables(snapshot: Snapshot, t: Thresholds) -> Iterator[Finding]:
    catalog = catalog_sections(snapshot, "tables")
    for table in catalog.tables if catalog else []:
        if not table.unlogged:
            continue
        yield Finding(
            id=f"schema.unlogged_table:{table.qualified_name}", rule="schema.unlogged_table", area="architecture",
            severity=Severity.MEDIUM,
            title=f"Table {table.qualified_name} is UNLOGGED",
            evidence=[Evidence(subject=table.qualified_name, detail=f"{table.live_rows:,} rows, relpersistence = u")],
            impact="It is emptied after a crash, is not replicated to standbys and is not in physical backups.",
            fix="If its data matters, make it logged (rewrites the table and writes it all to WAL).",
            statement=f"ALTER TABLE {qualified(table.schema_name, table.name)} SET LOGGED;")


@rule(reads=CATALOG_ONLY)
def disabled_triggers(snapshot: Snapshot, t: Thresholds) -> Iterator[Finding]:
    catalog = catalog_sections(snapshot, "disabled_triggers")
    for trigger in catalog.disabled_triggers if catalog else []:
        yield Finding(
            id=f"schema.disabled_trigger:{trigger.schema_name}.{trigger.table}.{trigger.name}",
            rule="schema.disabled_trigger", area="schema", severity=Severity.MEDIUM,
            title=f"Trigger {trigger.name} on {trigger.schema_name}.{trigger.table} is disabled",
            evidence=[Evidence(subject=trigger.name, detail=f"on {trigger.schema_name}.{trigger.table}, tgenabled = D")],
            impact="Whatever it maintains (audit rows, denormalized columns, checks) has not been done since it was "
                   "disabled — often during a load that was never finished.",
            fix="Find out why it was disabled; enable it and repair what it missed, or drop it.",
            statement=f"ALTER TABLE {qualified(trigger.schema_name, trigger.table)} ENABLE TRIGGER "
                      f"{quote_ident(trigger.name)};")
