# Convenience wrappers around the two README commands.
.PHONY: run test chaos
run:
	scripts/run.sh
test:
	scripts/test.sh
chaos:
	scripts/bootstrap.sh test && scripts/ensure_postgres.sh && .venv/bin/python scripts/chaos.py
