# Everything runs from a project-local virtualenv, created on first use.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin

$(BIN)/civicbot: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

.PHONY: chat run test lint nightly
chat: $(BIN)/civicbot
	$(BIN)/civicbot chat

run: $(BIN)/civicbot
	$(BIN)/civicbot run

test: $(BIN)/civicbot
	$(BIN)/python -m pytest -q -n 2

lint: $(BIN)/civicbot
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
