# Everything runs from a project-local virtualenv, created on first use.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin

$(BIN)/civicbot: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

# The browser tests (tests/browser) drive Debian's chromium; fonts-nanum draws their Hangul.
# Installed here when this may (root with apt-get); otherwise those tests are skipped, with
# the reason in pytest's summary.
CHROMIUM := /usr/bin/chromium

.PHONY: chat demo run test lint nightly browser
chat: $(BIN)/civicbot
	$(BIN)/civicbot chat

# Every programme kind open now, with demo data, on a throw-away database; you are an admin.
demo: $(BIN)/civicbot
	$(BIN)/civicbot chat --demo --as-admin

run: $(BIN)/civicbot
	$(BIN)/civicbot run

browser:
	@if [ ! -x $(CHROMIUM) ]; then \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
			echo "Installing Debian's chromium for the browser tests"; \
			(apt-get update -qq && apt-get install -y -qq chromium fonts-nanum >/dev/null) \
				|| echo "chromium could not be installed: the browser tests will be skipped"; \
		else \
			echo "No $(CHROMIUM) (install Debian's chromium): the browser tests will be skipped"; \
		fi; \
	fi

# One worker runs the browser tests (xdist group "browser"), so one browser starts.
test: $(BIN)/civicbot browser
	$(BIN)/python -m pytest -q -n 2 --dist loadgroup

lint: $(BIN)/civicbot
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
