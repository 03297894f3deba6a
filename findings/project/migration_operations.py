"""The operations a migration runs, read with `ast` (never imported) from Alembic revision files and
Django migrations, and from the raw SQL they execute (`op.execute`, `RunSQL`): the ones that lock a table
for a while or break running code, as Squawk (a PostgreSQL migration linter) judges them."""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import PurePosixPath

# What each kind of operation does to its table, as Squawk's rules say (its rule name in brackets).
# `scans`: it reads (or rewrites) the whole table while holding the lock, so the time blocked grows with size.
# `blocks`: what the lock stops while it is held.


@dataclass(frozen=True)
class OperationKind:
    what: str
    lock: str
    blocks: str
    scans: bool
    fix: str
    squawk: str


KINDS: dict[str, OperationKind] = {
    "index": OperationKind(
        "adds an index without CONCURRENTLY", "SHARE", "blocks writes (not reads) for the whole build", True,
        "Build it concurrently: Alembic `op.create_index(..., postgresql_concurrently=True)` inside "
        "`with op.get_context().autocommit_block():`; Django `AddIndexConcurrently` in a migration with "
        "`atomic = False`; SQL `CREATE INDEX CONCURRENTLY`.", "require-concurrent-index-creation"),
    "unique_constraint": OperationKind(
        "adds a unique or primary key constraint (an index built under the lock)", "ACCESS EXCLUSIVE",
        "blocks reads and writes while its index is built", True,
        "Build the index first with `CREATE UNIQUE INDEX CONCURRENTLY`, then `ALTER TABLE … ADD CONSTRAINT … "
        "UNIQUE USING INDEX …` (instant).", "disallowed-unique-constraint"),
    "foreign_key": OperationKind(
        "adds a foreign key validated at once", "SHARE ROW EXCLUSIVE (on both tables)",
        "blocks writes to both tables while every row is checked", True,
        "Add it `NOT VALID` (instant), then `ALTER TABLE … VALIDATE CONSTRAINT …` in a later step, which "
        "lets writes go on.", "adding-foreign-key-constraint"),
    "check_constraint": OperationKind(
        "adds a CHECK constraint validated at once", "ACCESS EXCLUSIVE",
        "blocks reads and writes while every row is checked", True,
        "Add it `NOT VALID`, then `VALIDATE CONSTRAINT` in a later step (SHARE UPDATE EXCLUSIVE: reads and "
        "writes go on).", "constraint-missing-not-valid"),
    "set_not_null": OperationKind(
        "sets a column NOT NULL", "ACCESS EXCLUSIVE", "blocks reads and writes while every row is checked", True,
        "Add `CHECK (col IS NOT NULL) NOT VALID`, `VALIDATE` it, then `SET NOT NULL` (PostgreSQL 12 and later "
        "skip the scan given the valid check) and drop the check.", "setting-not-nullable-field"),
    "type_change": OperationKind(
        "changes a column's type (rewrites the table and its indexes)", "ACCESS EXCLUSIVE",
        "blocks reads and writes for the whole rewrite", True,
        "Add a new column of the new type, backfill it in batches, switch the code to it, then drop the old one.",
        "changing-column-type"),
    "alter_field": OperationKind(
        "alters a column's definition (a type or NULL change rewrites or scans the table)", "ACCESS EXCLUSIVE",
        "blocks reads and writes for a rewrite or a scan, if the change needs one", True,
        "Check the SQL with `manage.py sqlmigrate`: a type change wants a new column and a backfill, a NOT NULL "
        "a validated CHECK first.", "changing-column-type"),
    "volatile_default": OperationKind(
        "adds a column with a volatile default (rewrites the table)", "ACCESS EXCLUSIVE",
        "blocks reads and writes for the whole rewrite", True,
        "Add the column without a default (or with a constant one), backfill it in batches, then set the "
        "default.", "adding-field-with-default"),
    "rewrite": OperationKind(
        "rewrites the table (VACUUM FULL / CLUSTER)", "ACCESS EXCLUSIVE", "blocks reads and writes for the rewrite",
        True, "Use pg_repack or pg_squeeze, which rewrite online, or leave it to a maintenance window.",
        "ban-vacuum-full"),
    "reindex": OperationKind(
        "rebuilds an index without CONCURRENTLY", "SHARE (ACCESS EXCLUSIVE on the index)",
        "blocks writes, and reads that use the index, for the build", True, "`REINDEX … CONCURRENTLY`.",
        "require-concurrent-index-creation"),
    "required_column": OperationKind(
        "adds a NOT NULL column without a default", "ACCESS EXCLUSIVE", "fails on a table that has rows", False,
        "Give it a server default (Alembic `server_default=`; Django `db_default=`), or add it nullable, backfill, "
        "then set NOT NULL.", "adding-required-field"),
    "drop_column": OperationKind(
        "drops a column", "ACCESS EXCLUSIVE (brief)", "breaks the running code that still reads it", False,
        "Deploy code that no longer reads or writes the column first (Django: remove the field from the model "
        "with `SeparateDatabaseAndState`), drop it in a later release.", "ban-drop-column"),
    "drop_table": OperationKind(
        "drops a table", "ACCESS EXCLUSIVE (brief)", "breaks the running code that still uses it", False,
        "Stop using the table in a release first, drop it in a later one (after a backup).", "ban-drop-table"),
    "concurrently_in_transaction": OperationKind(
        "builds an index CONCURRENTLY inside the migration's transaction", "none (it never starts)",
        "fails: CREATE INDEX CONCURRENTLY cannot run inside a transaction block, and the deployment stops there",
        False, "Alembic: put it in `with op.get_context().autocommit_block():`; Django: `atomic = False` on the "
        "Migration class.", "ban-concurrent-index-creation-in-transaction"),
    "rename": OperationKind(
        "renames a table or column", "ACCESS EXCLUSIVE (brief)", "breaks the running code that uses the old name",
        False, "Add the new name beside the old (a new column kept in sync, or a view with the old name), move the "
        "code, then drop the old.", "renaming-column"),
}

VOLATILE_DEFAULT = re.compile(r"\b(random|gen_random_uuid|uuid_generate_v[14]\w*|clock_timestamp|timeofday|nextval)"
                              r"\s*\(", re.IGNORECASE)
TABLE = r"(?P<table>(?:\"[^\"]+\"|[\w$]+)(?:\s*\.\s*(?:\"[^\"]+\"|[\w$]+))?)"
SQL_CREATE_INDEX = re.compile(r"^CREATE\s+(UNIQUE\s+)?INDEX\s+(?!CONCURRENTLY\b).*?\bON\s+(?:ONLY\s+)?" + TABLE,
                              re.IGNORECASE | re.DOTALL)
SQL_CONCURRENTLY = re.compile(r"^(?:CREATE\s+(?:UNIQUE\s+)?INDEX\s+CONCURRENTLY\b.*?\bON\s+(?:ONLY\s+)?|"
                              r"REINDEX\s+(?:\([^)]*\)\s*)?(?:TABLE|INDEX)\s+CONCURRENTLY\s+)" + TABLE,
                              re.IGNORECASE | re.DOTALL)
SQL_ALTER_TABLE = re.compile(r"^ALTER\s+TABLE\s+(?:IF\s+EXISTS\s+)?(?:ONLY\s+)?" + TABLE + r"\s+(?P<rest>.*)$",
                             re.IGNORECASE | re.DOTALL)
SQL_REWRITE = re.compile(r"^(VACUUM\s+(\(\s*)?FULL\b[^;]*?|CLUSTER\s+(VERBOSE\s+)?)" + TABLE, re.IGNORECASE)
SQL_REINDEX = re.compile(r"^REINDEX\s+(\([^)]*\)\s*)?(TABLE|INDEX)\s+(?!CONCURRENTLY\b)" + TABLE, re.IGNORECASE)
SQL_DROP_TABLE = re.compile(r"^DROP\s+TABLE\s+(IF\s+EXISTS\s+)?" + TABLE, re.IGNORECASE)
# Clauses of ALTER TABLE, in the order they are tried; the first that matches a clause names it.
SQL_CLAUSES = [
    ("unique_constraint", re.compile(r"^ADD\s+(CONSTRAINT\s+\S+\s+)?(UNIQUE|PRIMARY\s+KEY)\b(?!.*\bUSING\s+INDEX\b)",
                                     re.IGNORECASE | re.DOTALL)),
    ("foreign_key", re.compile(r"^ADD\s+(CONSTRAINT\s+\S+\s+)?FOREIGN\s+KEY\b(?!.*\bNOT\s+VALID\b)",
                               re.IGNORECASE | re.DOTALL)),
    ("check_constraint", re.compile(r"^ADD\s+(CONSTRAINT\s+\S+\s+)?CHECK\b(?!.*\bNOT\s+VALID\b)",
                                    re.IGNORECASE | re.DOTALL)),
    ("type_change", re.compile(r"^ALTER\s+(COLUMN\s+)?\S+\s+(SET\s+DATA\s+)?TYPE\b", re.IGNORECASE)),
    ("set_not_null", re.compile(r"^ALTER\s+(COLUMN\s+)?\S+\s+SET\s+NOT\s+NULL\b", re.IGNORECASE)),
    ("rename", re.compile(r"^RENAME\b", re.IGNORECASE)),
    ("drop_column", re.compile(r"^DROP\s+(COLUMN\s+)?(?!CONSTRAINT\b)\S+", re.IGNORECASE)),
]
SQL_ADD_COLUMN = re.compile(r"^ADD\s+(COLUMN\s+)?(?!CONSTRAINT\b|UNIQUE\b|PRIMARY\b|FOREIGN\b|CHECK\b)\S+",
                            re.IGNORECASE)


@dataclass(frozen=True)
class MigrationOperation:
    """One risky operation of one migration: its kind (a key of KINDS), the table as written (maybe
    schema-qualified, without quotes), what was written, and where."""

    migration: str
    kind: str
    table: str | None
    written: str
    location: str


def _unquote(name: str) -> str:
    return ".".join(part.strip().strip('"') for part in re.split(r"\.(?=(?:[^\"]*\"[^\"]*\")*[^\"]*$)", name))


def _statements(text: str) -> list[str]:
    """SQL statements split on semicolons outside quotes and comments stripped (good enough for migrations)."""
    text = re.sub(r"--[^\n]*", "", text)
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.DOTALL)
    statements, current, quote = [], [], None
    for char in text:
        if quote:
            quote = None if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char == ";":
            statements.append("".join(current).strip())
            current = []
            continue
        current.append(char)
    statements.append("".join(current).strip())
    return [s for s in statements if s]


def _clauses(rest: str) -> list[str]:
    """The comma-separated clauses of an ALTER TABLE, commas inside parentheses kept."""
    clauses, depth, current = [], 0, []
    for char in rest:
        depth += (char == "(") - (char == ")")
        if char == "," and depth == 0:
            clauses.append("".join(current).strip())
            current = []
        else:
            current.append(char)
    clauses.append("".join(current).strip())
    return [c for c in clauses if c]


def sql_operations(migration: str, sql: str, location: str, *, in_transaction: bool = False) -> list[MigrationOperation]:
    """The risky statements of `sql`; `in_transaction`: run inside the migration's transaction."""
    found = []
    for statement in _statements(sql):
        one_line = re.sub(r"\s+", " ", statement)[:160]

        def add(kind: str, table: str) -> None:
            found.append(MigrationOperation(migration, kind, _unquote(table), one_line, location))

        if m := SQL_CREATE_INDEX.match(statement):
            add("index", m["table"])
        elif in_transaction and (m := SQL_CONCURRENTLY.match(statement)):
            add("concurrently_in_transaction", m["table"])
        elif m := SQL_REWRITE.match(statement):
            add("rewrite", m["table"])
        elif m := SQL_REINDEX.match(statement):
            add("reindex", m["table"]) if m.group(2).upper() == "TABLE" else None
        elif m := SQL_DROP_TABLE.match(statement):
            add("drop_table", m["table"])
        elif m := SQL_ALTER_TABLE.match(statement):
            for clause in _clauses(m["rest"]):
                if SQL_ADD_COLUMN.match(clause):
                    if VOLATILE_DEFAULT.search(clause) or re.search(r"\b(big)?serial\b", clause, re.IGNORECASE):
                        add("volatile_default", m["table"])
                    elif re.search(r"\bNOT\s+NULL\b", clause, re.IGNORECASE) and not re.search(
                            r"\bDEFAULT\b", clause, re.IGNORECASE):
                        add("required_column", m["table"])
                    if re.search(r"\bREFERENCES\b", clause, re.IGNORECASE):
                        add("foreign_key", m["table"])
                    if re.search(r"\b(UNIQUE|PRIMARY\s+KEY)\b", clause, re.IGNORECASE):
                        add("unique_constraint", m["table"])
                    continue
                kind = next((k for k, pattern in SQL_CLAUSES if pattern.match(clause)), None)
                if kind:
                    add(kind, m["table"])
    return found


def _literal(node: ast.expr | None) -> object:
    if node is None:
        return None
    try:
        return ast.literal_eval(node)
    except (ValueError, SyntaxError, TypeError):
        return None


def _argument(call: ast.Call, position: int, keyword: str) -> ast.expr | None:
    for kw in call.keywords:
        if kw.arg == keyword:
            return kw.value
    return call.args[position] if len(call.args) > position else None


def _keyword(call: ast.Call, name: str) -> ast.expr | None:
    return next((kw.value for kw in call.keywords if kw.arg == name), None)


def _sql_text(node: ast.expr | None) -> str | None:
    """The SQL of `"…"`, `sa.text("…")` or `text("…")`."""
    if isinstance(node, ast.Call) and node.args and getattr(node.func, "attr", getattr(node.func, "id", "")) == "text":
        node = node.args[0]
    value = _literal(node)
    return value if isinstance(value, str) else None


def _called(call: ast.Call) -> tuple[str, str] | None:
    """("op", "create_index") for `op.create_index(...)`, ("batch_op", …) for a batch operation."""
    if isinstance(call.func, ast.Attribute) and isinstance(call.func.value, ast.Name):
        return call.func.value.id, call.func.attr
    return None


def _column_operations(column: ast.expr | None) -> list[str]:
    """The kinds an `sa.Column(...)` added to an existing table brings."""
    if not isinstance(column, ast.Call):
        return []
    kinds = []
    nullable = _literal(_keyword(column, "nullable"))
    primary = _literal(_keyword(column, "primary_key")) is True
    default = _keyword(column, "server_default")
    default_sql = _sql_text(default) if default is not None else None
    if default_sql and VOLATILE_DEFAULT.search(default_sql):
        kinds.append("volatile_default")
    elif (nullable is False or primary) and default is None:
        kinds.append("required_column")
    if _literal(_keyword(column, "unique")) is True or primary:
        kinds.append("unique_constraint")
    if _literal(_keyword(column, "index")) is True:
        kinds.append("index")
    if any(isinstance(a, ast.Call) and getattr(a.func, "attr", getattr(a.func, "id", "")) == "ForeignKey"
           for a in column.args):
        kinds.append("foreign_key")
    return kinds


# Alembic: the position of the table argument in op.X(...) (and in batch_op.X, where the table is the batch's).
ALEMBIC_TABLE_ARGUMENT = {"create_index": 1, "add_column": 0, "alter_column": 0, "create_foreign_key": 1,
                          "create_check_constraint": 1, "create_unique_constraint": 1, "create_primary_key": 1,
                          "drop_column": 0, "rename_table": 0, "drop_table": 0}

# The operations whose kind their name alone gives.
ALEMBIC_KIND = {"create_check_constraint": "check_constraint", "create_unique_constraint": "unique_constraint",
                "create_primary_key": "unique_constraint", "drop_column": "drop_column", "rename_table": "rename",
                "drop_table": "drop_table"}
DJANGO_KIND = {"AddIndex": "index", "AlterField": "alter_field", "AlterUniqueTogether": "unique_constraint",
               "AlterIndexTogether": "index", "RemoveField": "drop_column", "RenameField": "rename",
               "RenameModel": "rename", "DeleteModel": "drop_table"}


def alembic_operations(migration: str, path: str, text: str) -> list[MigrationOperation]:
    """The risky operations of an Alembic revision's upgrade()."""
    try:
        tree = ast.parse(text)
    except SyntaxError:
        return []
    upgrade = next((n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "upgrade"), None)
    if upgrade is None:
        return []
    batch_tables: dict[str, str] = {}  # `with op.batch_alter_table("t") as batch_op`
    autocommit: set[int] = set()  # the calls inside `with op.get_context().autocommit_block():`
    for node in ast.walk(upgrade):
        if isinstance(node, ast.With):
            if any(isinstance(item.context_expr, ast.Call) and getattr(item.context_expr.func, "attr", "")
                   == "autocommit_block" for item in node.items):
                autocommit |= {id(n) for statement in node.body for n in ast.walk(statement)}
            for item in node.items:
                call = item.context_expr
                if (isinstance(call, ast.Call) and _called(call) and _called(call)[1] == "batch_alter_table"
                        and isinstance(item.optional_vars, ast.Name)
                        and isinstance(table := _literal(_argument(call, 0, "table_name")), str)):
                    batch_tables[item.optional_vars.id] = table
    found = []
    for node in ast.walk(upgrade):
        if not isinstance(node, ast.Call) or (called := _called(node)) is None:
            continue
        owner, name = called
        batch = owner in batch_tables
        if owner != "op" and not batch:
            continue
        location = f"{path}:{node.lineno}"
        written = ast.get_source_segment(text, node) or name
        written = re.sub(r"\s+", " ", written)[:160]
        in_transaction = id(node) not in autocommit
        if name == "execute" and not batch:
            if (sql := _sql_text(_argument(node, 0, "sqltext"))) is not None:
                found += sql_operations(migration, sql, location, in_transaction=in_transaction)
            continue
        if name not in ALEMBIC_TABLE_ARGUMENT:
            continue
        if batch:
            table = batch_tables[owner]
            shift = 1  # batch operations take no table argument
        else:
            table = _literal(_argument(node, ALEMBIC_TABLE_ARGUMENT[name], {
                "create_index": "table_name", "create_foreign_key": "source_table"}.get(name, "table_name")))
            shift = 0
            schema = _literal(_keyword(node, "schema") or _keyword(node, "source_schema"))
            if isinstance(table, str) and isinstance(schema, str):
                table = f"{schema}.{table}"
        if not isinstance(table, str):
            continue

        def add(kind: str) -> None:
            found.append(MigrationOperation(migration, kind, table, written, location))

        if name == "create_index":
            if _literal(_keyword(node, "postgresql_concurrently")) is not True:
                add("index")
            elif in_transaction:
                add("concurrently_in_transaction")
        elif name == "add_column":
            for kind in _column_operations(_argument(node, 1 - shift, "column")):
                add(kind)
        elif name == "alter_column":
            if _keyword(node, "type_") is not None:
                add("type_change")
            if _literal(_keyword(node, "nullable")) is False:
                add("set_not_null")
            if _keyword(node, "new_column_name") is not None:
                add("rename")
        elif name == "create_foreign_key":
            if not any(kw.arg and "not_valid" in kw.arg and _literal(kw.value) is True for kw in node.keywords):
                add("foreign_key")
        elif name in ALEMBIC_KIND:
            add(ALEMBIC_KIND[name])
    return sorted(found, key=lambda o: (int(o.location.rsplit(":", 1)[1]), o.kind))


def django_db_tables(files: dict[str, str]) -> dict[tuple[str, str], str]:
    """(app label, model name lowered) -> db_table, for CreateModel operations that set one."""
    tables = {}
    for path, text in files.items():
        try:
            tree = ast.parse(text)
        except SyntaxError:
            continue
        label = PurePosixPath(path).parent.parent.name
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "CreateModel":
                name, options = _literal(_argument(node, 0, "name")), _keyword(node, "options")
                if isinstance(name, str) and isinstance(options, ast.Dict):
                    for key, value in zip(options.keys, options.values):
                        if _literal(key) == "db_table" and isinstance(table := _literal(value), str):
                            tables[(label, name.lower())] = table
    return tables


def _field_kinds(field: ast.expr | None, adding: bool) -> list[str]:
    if not isinstance(field, ast.Call):
        return []
    field_type = getattr(field.func, "attr", getattr(field.func, "id", ""))
    kinds = []
    relation = field_type in ("ForeignKey", "OneToOneField")
    if adding and _literal(_keyword(field, "null")) is not True and _keyword(field, "default") is None \
            and _keyword(field, "db_default") is None and not relation and field_type != "ManyToManyField":
        kinds.append("required_column")
    if relation:
        kinds += ["foreign_key", "index"]
    elif _literal(_keyword(field, "unique")) is True:
        kinds.append("unique_constraint")
    elif _literal(_keyword(field, "db_index")) is True:
        kinds.append("index")
    return kinds


def django_operations(app_label: str, name: str, path: str, text: str,
                      db_tables: dict[tuple[str, str], str]) -> list[MigrationOperation]:
    """The risky operations in a Django migration's `operations`."""
    try:
        tree = ast.parse(text)
    except SyntaxError:
        return []
    migration = f"{app_label}.{name}"
    atomic = not any(isinstance(n, ast.Assign) and any(getattr(t, "id", None) == "atomic" for t in n.targets)
                     and _literal(n.value) is False for n in ast.walk(tree))
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call) or not isinstance(node.func, (ast.Attribute, ast.Name)):
            continue
        operation = getattr(node.func, "attr", getattr(node.func, "id", ""))
        location = f"{path}:{node.lineno}"
        written = re.sub(r"\s+", " ", ast.get_source_segment(text, node) or operation)[:160]
        model = _literal(_argument(node, 0, "model_name"))
        if operation == "RenameModel":
            model = _literal(_argument(node, 0, "old_name"))
        if operation == "DeleteModel":
            model = _literal(_argument(node, 0, "name"))
        table = db_tables.get((app_label, model.lower()), f"{app_label}_{model.lower()}") \
            if isinstance(model, str) else None

        def add(kind: str) -> None:
            found.append(MigrationOperation(migration, kind, table, written, location))

        if operation == "RunSQL":
            sql = _literal(_argument(node, 0, "sql"))
            for statement in [sql] if isinstance(sql, str) else sql if isinstance(sql, (list, tuple)) else []:
                if isinstance(statement, str):
                    found += sql_operations(migration, statement, location, in_transaction=atomic)
            continue
        if operation in ("AddIndexConcurrently", "RemoveIndexConcurrently") and atomic and table is not None:
            add("concurrently_in_transaction")
        if table is None:
            continue
        if operation == "AddField":
            for kind in _field_kinds(_argument(node, 2, "field"), adding=True):
                add(kind)
        elif operation == "AddConstraint":
            constraint = _argument(node, 1, "constraint")
            kind = getattr(getattr(constraint, "func", None), "attr", getattr(getattr(constraint, "func", None), "id", ""))
            if kind == "CheckConstraint":
                add("check_constraint")
            elif kind == "UniqueConstraint":
                add("unique_constraint")
        elif operation in DJANGO_KIND:
            add(DJANGO_KIND[operation])
    return sorted(found, key=lambda o: (int(o.location.rsplit(":", 1)[1]), o.kind))

