"""Kept for findings/report.py, which imports AlembicChain from here: the model lives in `alembic`."""

from .alembic import AlembicChain, AlembicRevision

__all__ = ["AlembicChain", "AlembicRevision"]
