"""What the ORMs and drivers are told outside database URLs (tests/fixtures/projects/node_orms): connection
objects without TLS or with a weak password, and settings that alter or drop the schema at start or deploy."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from dbtop.findings.model import Severity
from dbtop.findings.project import audit_project
from dbtop.findings.scores import AuditContext, score

FIXTURES = Path(__file__).parent / "fixtures" / "projects"


@pytest.fixture
def node_orms(tmp_path) -> Path:
    target = tmp_path / "node_orms"
    shutil.copytree(FIXTURES / "node_orms", target)
    return target


def findings_by_id(root: Path) -> dict[str, object]:
    return {f.id: f for f in audit_project(root).findings}


def test_each_planted_setting_is_found_where_it_is(node_orms):
    found = findings_by_id(node_orms)
    assert {i: f.severity for i, f in found.items()} == {
        "project.config.weak_password:knexfile.js:7": Severity.CRITICAL,
        "project.orm.prisma_data_loss:package.json:4": Severity.HIGH,
        "project.orm.sequelize_sync:src/db.ts:6": Severity.HIGH,
        "project.orm.typeorm_synchronize:ormconfig.json:5": Severity.HIGH,
        "project.config.no_tls:api/settings.py:4": Severity.MEDIUM,
        "project.config.no_tls:knexfile.js:5": Severity.MEDIUM,
        "project.orm.sqlalchemy_echo:api/database.py:3": Severity.LOW,
    }
    # the staging connection sets ssl, Sequelize's config.json sets dialectOptions.ssl, ormconfig's host is
    # local, and test/setup.ts may force-sync its test database
    assert found["project.config.no_tls:knexfile.js:5"].evidence[0].subject == "host: db.prod.example.com"
    assert "postgres" not in found["project.config.weak_password:knexfile.js:7"].model_dump_json()


def test_the_fixed_settings_raise_nothing(node_orms):
    (node_orms / "knexfile.js").write_text((node_orms / "knexfile.js").read_text()
                                           .replace("'postgres'", "process.env.DB_PASSWORD")
                                           .replace("user: 'app',\n      password: process.env.DB_PASSWORD,\n"
                                                    "      database", "ssl: true,\n      database", 1))
    (node_orms / "ormconfig.json").write_text((node_orms / "ormconfig.json").read_text().replace("true", "false"))
    (node_orms / "src/db.ts").write_text((node_orms / "src/db.ts").read_text().replace("{ force: true }", ""))
    (node_orms / "package.json").write_text((node_orms / "package.json").read_text()
                                            .replace("db push --accept-data-loss", "migrate deploy"))
    (node_orms / "api/database.py").write_text((node_orms / "api/database.py").read_text().replace("echo=True", "echo=False"))
    (node_orms / "api/settings.py").write_text((node_orms / "api/settings.py").read_text()
                                               .replace('"PASSWORD": "",', '"OPTIONS": {"sslmode": "verify-full"},'))
    assert findings_by_id(node_orms) == {}


def test_the_findings_count_in_the_checklists(node_orms):
    audit = audit_project(node_orms)
    items = {item.item: item for area in score(audit.findings, AuditContext(snapshot=None, project_audited=True)).areas
             for item in area.checklist}
    schema_item = next(i for name, i in items.items() if name.startswith("The application never alters or drops"))
    assert schema_item.status == "not done"
    assert items["The application's database URLs and connection settings set a TLS mode"].status == "not done"
    assert items["The application does not log statements with their parameters (SQLAlchemy echo)"].status == "not done"


def test_a_bundled_file_full_of_host_keys_is_read_in_bounded_time():
    """Each key looks for its object's braces within a reach: scanning to the file's ends took 23 s here."""
    import time

    from dbtop.findings.project.orm_configs import orm_findings

    text = "const pg = require('pg');\n" + "".join(f"c{i} = {{ host: 'h{i}.example.com' }};\n" for i in range(40000))
    started = time.perf_counter()
    found = orm_findings({"public/app.js": text}, set())
    assert time.perf_counter() - started < 5
    assert 0 < len(found) <= 50


def test_the_cap_falls_on_js_sources_after_python(tmp_path, monkeypatch):
    from dbtop.findings.project import audit as audit_module

    (tmp_path / ".env").write_text("POSTGRES_PASSWORD=change_me\n")
    for i in range(2):
        (tmp_path / f"module_{i}.py").write_text("x = 1\n")
    for i in range(5):
        (tmp_path / f"a_{i}.js").write_text("module.exports = {};\n")
    (tmp_path / "knexfile.js").write_text("module.exports = {};\n")
    monkeypatch.setattr(audit_module, "MAX_FILES", 4)
    capped = audit_project(tmp_path)
    assert capped.capped
    assert capped.files_read == [".env", "knexfile.js", "module_0.py", "module_1.py"]


# Mongoose and the MongoDB drivers (tests/fixtures/projects/mongoose_app)

@pytest.fixture
def mongoose_app(tmp_path) -> Path:
    target = tmp_path / "mongoose_app"
    shutil.copytree(FIXTURES / "mongoose_app", target)
    return target


def test_client_options_in_code_count_for_the_uri_the_environment_gives(mongoose_app):
    found = findings_by_id(mongoose_app)
    # .env's URI to 10.0.4.2 has neither tls nor maxPoolSize, but every client that reads it (mongoose.connect
    # in db.js, PyMongo in worker.py) sets both: the driver uses them
    assert not [i for i in found if ":.env:" in i]
    # the reports connection writes its URI in the call: no credentials, no TLS; its pool is set beside it
    assert {i: f.severity for i, f in found.items() if i.startswith("project.mongo.")} == {
        "project.mongo.no_credentials:src/db.js:10": Severity.HIGH, "project.mongo.no_tls:src/db.js:10": Severity.MEDIUM}


def test_a_client_without_the_options_leaves_the_uri_judged_as_written(mongoose_app):
    (mongoose_app / "src" / "jobs.js").write_text(
        'const mongoose = require("mongoose");\nmongoose.connect(process.env.MONGO_URL);\n')
    found = findings_by_id(mongoose_app)
    assert {"project.mongo.no_tls:.env:1", "project.mongo.pool_unset:.env:1"} <= set(found)


def test_mongoose_schema_indexes_built_at_start_unless_auto_index_is_off(mongoose_app):
    finding = findings_by_id(mongoose_app)["project.orm.mongoose_auto_index:src/models/order.js"]
    assert finding.severity == Severity.MEDIUM and finding.evidence[0].location == "src/models/order.js:5"
    assert "unique: true" in finding.evidence[0].detail
    db = mongoose_app / "src" / "db.js"
    db.write_text(db.read_text().replace("maxPoolSize: 20,", "maxPoolSize: 20,\n  autoIndex: false,"))
    assert "project.orm.mongoose_auto_index:src/models/order.js" not in findings_by_id(mongoose_app)
    (mongoose_app / "src" / "models" / "order.test.js").write_text("new Schema({ a: { type: String, index: true } })")
    assert not [i for i in findings_by_id(mongoose_app) if "order.test.js" in i]
