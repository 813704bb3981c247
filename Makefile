# make test / make demo create or reuse .venv, install with constraints.txt, and run.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp
DEMO   ?= demo_out

.PHONY: test test-slow demo install clean bench

$(STAMP): pyproject.toml constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -c constraints.txt -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

test: $(STAMP)
	$(PY) -m pytest -q

test-slow: $(STAMP)
	$(PY) -m pytest -q -m slow

demo: $(STAMP)
	$(PY) -m skullvae_cli.demo $(DEMO)

bench: $(STAMP)
	$(PY) benchmarks/synth_speed.py

clean:
	rm -rf $(VENV) $(DEMO) build *.egg-info
