"""The MongoDB engine: PyMongo's async client, one collector per target (collector.py)."""
