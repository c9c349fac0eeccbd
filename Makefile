# Parta: the two commands of the README.
#   make demo   - a homeserver with Parta and demo schools, ready for a Matrix client (Ctrl-C stops it)
#   make test   - lint (ruff) and types (mypy), then the whole suite on SQLite and then on PostgreSQL
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.parta-installed
TESTSTAMP := $(VENV)/.parta-test-installed

.PHONY: demo test install clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): setup.cfg pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(TESTSTAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

install: $(TESTSTAMP)

demo: $(STAMP)
	$(BIN)/parta demo $(ARGS)

# The SQLite and PostgreSQL runs go side by side (each with its own Synapse, ports and databases):
# most of the suite waits on Synapse and the network, not on the CPU. Each run's output is kept in
# .test-logs/ and printed whole when both have ended; the command fails when either failed.
test: $(TESTSTAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy
	@mkdir -p .test-logs
	@echo "pytest on SQLite and on PostgreSQL, side by side (progress: tail -f .test-logs/*.log)"
	@( $(BIN)/python -m pytest $(PYTEST_ARGS) > .test-logs/sqlite.log 2>&1; echo $$? > .test-logs/sqlite.rc ) & \
	 ( PARTA_TEST_DB=postgres $(BIN)/python -m pytest $(PYTEST_ARGS) > .test-logs/postgres.log 2>&1; \
	   echo $$? > .test-logs/postgres.rc ) & \
	 wait; \
	 echo "=== SQLite ==="; cat .test-logs/sqlite.log; echo "=== PostgreSQL ==="; cat .test-logs/postgres.log; \
	 test "$$(cat .test-logs/sqlite.rc)" = 0 && test "$$(cat .test-logs/postgres.rc)" = 0

clean:
	rm -rf $(VENV) demo-data .pytest_cache .mypy_cache .ruff_cache .test-logs build
