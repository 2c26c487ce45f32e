# Two commands on a fresh machine: `make demo` and `make test`. Each sets up what it needs.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
DEBS := iverilog yosys nextpnr-ice40 chromium
PYTEST_ARGS ?=

.PHONY: demo test check lint setup debs clean

setup: $(STAMP) debs

# Re-installs only when pyproject.toml changes (the stamp records it).
$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "error: $(PYTHON) not found; install Python 3.11"; exit 1; }
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip setuptools wheel
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e '.[hw,sim,explore,report,dev,zoo]'
	@# torchvision for the model zoo test; --no-deps: its torch requirement must not touch torch
	$(PY) -m pip install -q --no-deps torchvision==0.28.0
	@touch $(STAMP)

# Debian packages: the simulator, synthesis and place-and-route tools, and the headless browser
# the report test loads report.html in.
debs:
	@missing=""; for d in $(DEBS); do command -v $$d >/dev/null || missing="$$missing $$d"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing Debian packages:$$missing"; \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing) >/dev/null || exit 1; \
	  else \
	    echo "error: missing$$missing; install with: sudo apt-get install -y$$missing"; exit 1; \
	  fi; \
	fi

lint: $(STAMP)
	$(VENV)/bin/ruff check .

test: setup lint
	$(PY) -m pytest -n 2 -q $(PYTEST_ARGS)

# The quick unit tier (tests/conftest.py QUICK_MODULES): about 20 s, one process; `make test`
# stays the full suite.
check: setup lint
	$(PY) -m pytest -q -m quick $(PYTEST_ARGS)

demo: setup
	$(VENV)/bin/codesign demo --out build/demo

clean:
	rm -rf build .pytest_cache
