"""dbtop's commands, one module each; `tui/cli.py` parses the command word and calls `run(argv)`
of the module here. Each module imports what it needs when it runs, so `--help` stays fast."""
