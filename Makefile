# The two commands of README.md, plus their helpers. Everything runs from a virtualenv in .venv (no root needed).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
DEMO := build/demo
PORT ?= 8000

.PHONY: demo test lint bench copier.yml docs/questions.md docs tools clean

# Generate a project from this checkout with the default answers, install it and serve it on 127.0.0.1:$(PORT).
demo: tools
	rm -rf $(DEMO)
	$(BIN)/cookiecutter --no-input --output-dir $(DEMO) . port=$(PORT)
	cd $(DEMO)/my-web-app && $(PYTHON) -m venv .venv && .venv/bin/pip install --quiet -e '.[dev]'
	cd $(DEMO)/my-web-app && .venv/bin/python manage.py db upgrade
	@echo "Serving on http://127.0.0.1:$(PORT)/ (Ctrl-C stops it)"
	cd $(DEMO)/my-web-app && exec .venv/bin/python manage.py serve --bind 127.0.0.1:$(PORT)

# Run the template's test suite in parallel. Tests needing system packages skip without them (they fail with CI=true);
# scripts/install-system-packages.sh installs them.
test: tools
	$(BIN)/python -m pytest -n auto $(PYTEST_ARGS)

lint: tools
	$(BIN)/ruff check bench hooks scripts tests local_extensions.py
	$(BIN)/ruff format --check bench hooks scripts tests local_extensions.py

# copier.yml is generated from cookiecutter.json, the questions' one source: run after editing cookiecutter.json.
copier.yml: tools
	$(BIN)/python scripts/generate_copier_yml.py

# Benchmarks (not part of the tests; as root, about 20 minutes): build/reports/bench.md. The served stacks run in a
# private network namespace (unshare), where their sites may listen on port 80. BENCH_ARGS=--quick tries the harness;
# BENCH_ARGS="--rows uWSGI" runs only the rows whose name contains uWSGI. Exit status 3: a floor is broken.
bench: tools
	$(BIN)/python -m bench $(BENCH_ARGS)

# docs/questions.md is generated from cookiecutter.json, the plugins and the template tree.
docs/questions.md: tools
	$(BIN)/python scripts/generate_questions_doc.py

# The documentation site, served on http://127.0.0.1:8001/ while you edit docs/.
docs: tools
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs serve --dev-addr 127.0.0.1:8001

tools: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check --upgrade 'pip>=25.1'
	$(BIN)/pip install --quiet --disable-pip-version-check --group dev
	touch $@

clean:
	rm -rf build $(VENV)
