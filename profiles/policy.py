"""A profile's expectations of its target as the engines read them: the watch policy."""

from __future__ import annotations

from ..engines.policy import WatchPolicy
from .config import Profile


def watch_policy(profile: Profile) -> WatchPolicy:
    """What the profile expects of its target, defaults where it says nothing."""
    values: dict = {"profile": profile.name, "data_age_columns": dict(profile.data_age_columns),
                    "thresholds": dict(profile.thresholds),
                    "freshness_s": {k: v.total_seconds() for k, v in profile.freshness.items()}}
    if profile.backup_dir:
        values["backup_dir"] = profile.backup_dir
    if profile.rpo is not None:
        values["rpo_s"] = profile.rpo.total_seconds()
    if profile.retention is not None:
        values["retention_s"] = profile.retention.total_seconds()
    if profile.verify_target:
        values["verify_target"] = profile.verify_target
    if profile.patroni_url:
        values["patroni_url"] = profile.patroni_url
    if profile.failover_max_lag is not None:
        values["failover_max_lag_s"] = profile.failover_max_lag.total_seconds()
    if profile.retention_keep is not None:
        values["retention_keep"] = profile.retention_keep
    return WatchPolicy(**values)
