# The two commands of the README. Each creates its own tool environment
# (tox and nox, pinned) on a machine that has only Python 3.11+ and pip.

PYTHON ?= python3
TOOLS := .venv-tools
TOOL_REQUIREMENTS := tox==4.67.15 nox==2026.10.20

.PHONY: demo test bench lint docs build clean

$(TOOLS)/.installed:
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/python -m pip install -q $(TOOL_REQUIREMENTS)
	touch $@

demo: $(TOOLS)/.installed    ## train a small kerastack model (KERAS_BACKEND picks the backend)
	$(TOOLS)/bin/nox -s demo

test: $(TOOLS)/.installed    ## every lane of tox.ini: lint, tensorflow, jax, torch, isolated
	$(TOOLS)/bin/tox run

bench: $(TOOLS)/.installed   ## benchmarks on every backend (make bench ARGS=--quick)
	$(TOOLS)/bin/nox -s bench -- $(ARGS)

lint: $(TOOLS)/.installed
	$(TOOLS)/bin/tox run -e lint

docs: $(TOOLS)/.installed    ## the documentation site into site/ (mkdocs, strict)
	$(TOOLS)/bin/nox -s docs

build: $(TOOLS)/.installed
	$(TOOLS)/bin/nox -s build

clean:
	rm -rf $(TOOLS) .tox .nox dist site
