# The two commands of README.md, plus their helpers. No root needed: the tests' tools live in .venv, the demo's in
# build/demo/venv.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
DEMO := build/demo
DEMO_VENV := $(DEMO)/venv
PIP_QUIET := --quiet --disable-pip-version-check
PORT ?= 8000

.PHONY: demo test lint bench install-times copier.yml docs/questions.md docs/reference docs tools clean

# Generate a project from this checkout with the default answers and serve it on 127.0.0.1:$(PORT) with its
# production server. One virtualenv, build/demo/venv, holds only what that needs: cookiecutter (the `demo` group of
# pyproject.toml) and the project's runtime dependencies; no test tools, nothing to compile. It is kept, and pip runs
# again only when those requirements change, so a second run takes seconds.
demo: $(DEMO_VENV)/bin/cookiecutter
	rm -rf $(DEMO)/my-web-app
	$(DEMO_VENV)/bin/cookiecutter --no-input --output-dir $(DEMO) . port=$(PORT)
	$(PYTHON) -c 'import sys, tomllib; print(*tomllib.load(open(sys.argv[1], "rb"))["project"]["dependencies"], sep="\n")' \
		$(DEMO)/my-web-app/pyproject.toml > $(DEMO)/requirements.txt
	cmp -s $(DEMO)/requirements.txt $(DEMO_VENV)/requirements.txt || { \
		$(DEMO_VENV)/bin/pip install $(PIP_QUIET) -r $(DEMO)/requirements.txt && \
		cp $(DEMO)/requirements.txt $(DEMO_VENV)/requirements.txt; }
	cd $(DEMO)/my-web-app && ../venv/bin/python manage.py db upgrade
	@echo "Serving on http://127.0.0.1:$(PORT)/ (Ctrl-C stops it)"
	cd $(DEMO)/my-web-app && exec ../venv/bin/python manage.py serve --bind 127.0.0.1:$(PORT)

# Python 3.11 or newer (the generated project needs it), with venv. The `demo` group is read here rather than with
# `pip install --group`, which would first need a newer pip than Python 3.11's.
$(DEMO_VENV)/bin/cookiecutter: pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11) and "make demo needs Python 3.11 or newer: make demo PYTHON=python3.12")'
	rm -rf $(DEMO_VENV)
	$(PYTHON) -m venv $(DEMO_VENV)
	$(PYTHON) -c 'import tomllib; print(*tomllib.load(open("pyproject.toml", "rb"))["dependency-groups"]["demo"], sep="\n")' \
		> $(DEMO)/tools.txt
	$(DEMO_VENV)/bin/pip install $(PIP_QUIET) -r $(DEMO)/tools.txt
	touch $@

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

# First install and redeploy, the shell installer against the deploy engine, in fresh systemd-nspawn containers (as
# root, TESTBED_DIR as for the end-to-end tests; minutes per round): build/reports/install-times.md. E.g. ROUNDS=3.
install-times: tools
	$(BIN)/python -m bench.install_times --rounds $(or $(ROUNDS),5) $(INSTALL_TIMES_ARGS)

# docs/questions.md and the questions table of README.md are generated from cookiecutter.json, the hooks and the
# template tree.
docs/questions.md: tools
	$(BIN)/python scripts/generate_questions_doc.py

# docs/reference/ (a generated project file by file, the settings of .env) is generated from generated projects.
docs/reference: tools
	$(BIN)/python scripts/generate_reference_docs.py

# The documentation site, served on http://127.0.0.1:8001/ while you edit docs/.
docs: tools
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs serve --dev-addr 127.0.0.1:8001

tools: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install $(PIP_QUIET) --upgrade 'pip>=25.1'
	$(BIN)/pip install $(PIP_QUIET) --group dev
	touch $@

clean:
	rm -rf build $(VENV)
