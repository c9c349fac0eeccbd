# Parta: the two commands of the README.
#   make demo   - a homeserver with Parta and demo schools, ready for a Matrix client (Ctrl-C stops it)
#   make test   - lint (ruff) and types (mypy), then the whole suite on SQLite, then again on PostgreSQL
#                 (all but the tests marked db_free, which use neither a database nor Synapse), then the
#                 attack files on Synapse's worker topology behind nginx (PostgreSQL, Redis)
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

# one editable install with the test extra (not `-e .` and then `-e '.[test]'`: each builds the
# package again); it is the demo's install too
$(TESTSTAMP): setup.cfg pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP) $@

install: $(TESTSTAMP)

demo: $(STAMP)
	$(BIN)/parta demo $(ARGS)

# the PostgreSQL pass leaves out the tests marked db_free (no database, no Synapse: tests/passes.py);
# the SQLite pass ran them. Last, the attack files once more on Synapse's worker topology behind nginx
# (PostgreSQL and Redis: tests/workers_topology.py; 7 to 11 min on this machine, by its load)
WORKER_TESTS := tests/integration/test_workers.py tests/integration/test_attacks.py \
                tests/integration/test_lifecycle_attacks.py tests/integration/test_media_attacks.py \
                tests/integration/test_quiet_hours_attacks.py tests/integration/test_workers_federation.py
test: $(TESTSTAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/python -m pytest $(PYTEST_ARGS)
	PARTA_TEST_DB=postgres $(BIN)/python -m pytest -m "not db_free" $(PYTEST_ARGS)
	PARTA_TEST_TOPOLOGY=workers $(BIN)/python -m pytest $(PYTEST_ARGS) $(WORKER_TESTS)

clean:
	rm -rf $(VENV) demo-data .pytest_cache .mypy_cache .ruff_cache .test-logs build
