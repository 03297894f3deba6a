"""The static audit of an application repository (read, never run): see `audit.audit_project`."""

from .audit import ProjectAudit, audit_project

__all__ = ["ProjectAudit", "audit_project"]
