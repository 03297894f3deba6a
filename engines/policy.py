"""What the operator expects of a target: freshness thresholds for its views, where its backups are,
its recovery point objective and retention. Comes from the profile; defaults otherwise."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

HOUR = 3600.0
DAY = 24 * HOUR


class WatchPolicy(BaseModel):
    model_config = ConfigDict(frozen=True, defer_build=True)

    profile: str | None = None
    freshness_default_s: float = 4 * HOUR
    freshness_s: dict[str, float] = Field(default_factory=dict,
                                          description="per view, by 'schema.name' or bare name")
    data_age_columns: dict[str, str] = Field(default_factory=dict,
                                             description="view ('schema.name' or name) -> its timestamp column")
    backup_dir: str | None = None
    rpo_s: float = DAY
    retention_s: float = 7 * DAY
    retention_keep: int = 3
    verify_target: str | None = Field(default=None, description="the profile whose server test-restores backups")
    pgbackrest_timeout_s: float = 10.0
    pgbackrest_stanza: str | None = Field(default=None, description="the profile's stanza: read, backed up and "
                                                                    "verified by name")
    pgbackrest_config: str | None = None
    pgbackrest_user: str | None = Field(default=None, description="the OS user pgBackRest runs as")
    thresholds: dict[str, float] = Field(default_factory=dict)
    patroni_url: str | None = Field(default=None, description="Patroni's REST API; None: port 8008 on the host")
    failover_max_lag_s: float = Field(default=10.0, gt=0,
                                      description="how far behind a standby (promote), a Patroni candidate "
                                                  "(switchover, failover) or a MongoDB secondary (step-down) may be")

    def freshness_for(self, schema: str, name: str) -> float:
        for key in (f"{schema}.{name}", name):
            if key in self.freshness_s:
                return self.freshness_s[key]
        return self.freshness_s.get("default", self.freshness_default_s)

    def data_age_column_for(self, schema: str, name: str) -> str | None:
        return self.data_age_columns.get(f"{schema}.{name}") or self.data_age_columns.get(name)
