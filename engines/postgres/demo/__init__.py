"""`dbtop demo`: a throwaway PostgreSQL with an analytics schema, planted problems and a live
workload. build.py builds it; workload.py runs the workload and guards the cluster."""

from .build import DEFAULT_ROWS, DEMO_DATABASE, DemoScale, build_demo, load_demo, start_demo_cluster

__all__ = ["DEFAULT_ROWS", "DEMO_DATABASE", "DemoScale", "build_demo", "load_demo", "start_demo_cluster"]
