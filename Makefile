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

test: $(TESTSTAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/python -m pytest $(PYTEST_ARGS)
	PARTA_TEST_DB=postgres $(BIN)/python -m pytest $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) demo-data .pytest_cache .mypy_cache .ruff_cache .test-logs build
