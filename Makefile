# The two set-up commands of the README: `make demo` and `make test`.
VENV ?= .venv
PYTHON ?= python3
PY := $(VENV)/bin/python

.PHONY: install system venv pywb test demo serve

install: system venv

system:
	bash scripts/install-system.sh

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	touch $@

venv: $(VENV)/.installed

# pywb pins old redis/werkzeug that break scrapy-redis: it lives in its own venv, used only by the replay test.
.pywb-venv/.installed:
	$(PYTHON) -m venv .pywb-venv
	.pywb-venv/bin/python -m pip install -q pywb
	touch $@

pywb: .pywb-venv/.installed

test: install pywb
	$(PY) -m pytest -q -n 2 --dist loadfile

demo: install
	$(VENV)/bin/xxgk demo

# Browse what the demo (or a crawl) archived: http://127.0.0.1:8000/
serve: install
	$(VENV)/bin/xxgk serve
