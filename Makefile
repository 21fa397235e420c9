# Two commands on a fresh machine: `make demo` and `make test`. Both install what they need into .venv/.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# The security scanner lives apart: its pins clash with the project's (see constraints-scan.txt).
SCAN_VENV := .venv-scan
SECOND_ENGINE := tests/second_engine
WORKFLOW := workflows/airbyte-reset-and-resync.arazzo.yaml
# The run's state machine, and wait-for-job, the child it starts to watch each job.
ASL := statemachine/reset_and_resync.asl.json
CHILD_ASL := statemachine/wait_for_job.asl.json
FLEET_ASL := statemachine/reset_and_resync_fleet.asl.json
DEMO_CONNECTION := 9f1c1e4a-3b2d-4c5e-8f60-7a8b9c0d1e2f

.PHONY: help install scan-install demo test test-durations scan compile check lint typecheck docs docs-build bench sam-build clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/^([a-z-]+):.*## (.*)/  make \1\t\2/' | expand -t 22

install: $(VENV)/.installed $(SECOND_ENGINE)/node_modules/.installed  ## install the project and its development tools into .venv/

# The project's own modules are compiled too: where PYTHONDONTWRITEBYTECODE is set (as on the
# CI machines), nothing else writes them, and every process (each test worker, each command a
# test runs) would compile them again.
$(VENV)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[dev]'
	$(BIN)/python -m compileall -q src layers functions > /dev/null
	touch $@

# The second Step Functions engine the tests run the state machines in (aws-local-stepfunctions,
# pinned by its package-lock.json); without npm those tests are skipped, saying why.
$(SECOND_ENGINE)/node_modules/.installed: $(SECOND_ENGINE)/package-lock.json
	@if command -v npm > /dev/null; then \
		cd $(SECOND_ENGINE) && npm ci --prefer-offline --no-audit --no-fund --loglevel=error && touch node_modules/.installed; \
	else echo "npm is not installed: the tests that run the state machines in a second engine will be skipped"; fi

scan-install: $(SCAN_VENV)/.installed

$(SCAN_VENV)/.installed: constraints-scan.txt
	$(PYTHON) -m venv $(SCAN_VENV)
	$(SCAN_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -c constraints-scan.txt checkov
	touch $@

demo: install  ## run the main job locally against the built-in Airbyte stub
	$(BIN)/airbyte-resync run --connection-id $(DEMO_CONNECTION) --poll-interval 1

# The two environments install side by side: on a fresh machine that saves a third of the wait.
test:  ## install, then run every test (about 3 minutes on two cores, under 4 on a fresh machine)
	$(MAKE) --no-print-directory -j2 install scan-install
	$(BIN)/python -m pytest

test-durations:  ## run every test, then list the 30 slowest
	$(MAKE) --no-print-directory -j2 install scan-install
	$(BIN)/python -m pytest -q --durations=30

# The template's security scan, with the reason for each finding skipped (.checkov.yaml and
# the resources' Metadata). BC_SKIP_MAPPING: the scan needs no network.
scan: scan-install  ## the template's security scan (checkov)
	BC_SKIP_MAPPING=TRUE $(SCAN_VENV)/bin/checkov --config-file .checkov.yaml -f template.yaml --compact

# Regenerate the committed state machine after editing the workflow.
compile: install  ## regenerate the state machines and schemas after editing the workflow
	$(BIN)/arazzo-sfn compile $(WORKFLOW) --workflow reset-and-resync -o $(ASL)
	$(BIN)/arazzo-sfn compile $(WORKFLOW) --workflow wait-for-job -o $(CHILD_ASL)
	$(BIN)/arazzo-sfn compile $(WORKFLOW) --workflow reset-and-resync-fleet -o $(FLEET_ASL)
	$(BIN)/python -m airbyte_resync.contracts

# The committed state machines and schemas are not stale, the wheel holds every package and,
# as package data, the checkout's files the commands read; the docs build; then the linter and
# the type checker (their configuration is pyproject.toml's, nothing else) find nothing.
check: install docs-build  ## fail when a generated file is stale, the docs do not build, or lint or types fail
	$(BIN)/arazzo-sfn compile $(WORKFLOW) --workflow reset-and-resync -o $(ASL) --check
	$(BIN)/arazzo-sfn compile $(WORKFLOW) --workflow wait-for-job -o $(CHILD_ASL) --check
	$(BIN)/arazzo-sfn compile $(WORKFLOW) --workflow reset-and-resync-fleet -o $(FLEET_ASL) --check
	$(BIN)/python -m airbyte_resync.contracts --check
	$(BIN)/python -m pytest -n 0 -q -m "not network" tests/package
	$(MAKE) --no-print-directory lint typecheck

lint: install  ## the linter (ruff)
	$(BIN)/ruff check .

typecheck: install  ## the type checker (mypy, strict)
	$(BIN)/mypy

# The documentation site; --strict makes a broken link or a page missing from nav an error.
docs-build: install  ## build the documentation site into site/
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --quiet

docs: install  ## serve the documentation on http://127.0.0.1:8000
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs serve

# Build with SAM, then import each built function with only boto3 (the runtime's), Powertools
# (AWS's layer) and its layers under python3.12, the Lambda runtime's Python. Needs the SAM CLI
# and python3.12; says so without them.
sam-build: install  ## sam build, then import each built function as Lambda would
	@if ! command -v sam >/dev/null 2>&1 || ! command -v python3.12 >/dev/null 2>&1; then \
	  echo "sam-build: skipped: needs the SAM CLI and python3.12 on PATH (docs/deploying.md)"; exit 0; fi; \
	sam build && python3.12 -m venv .venv-lambda && \
	.venv-lambda/bin/python -m pip install --quiet --disable-pip-version-check -c constraints.txt boto3 aws_lambda_powertools && \
	$(BIN)/python -m airbyte_resync.built .aws-sam/build .venv-lambda/bin/python

# Figures, not pass/fail: each function's bundle and cold import; compile time of large
# documents; what a pass of each loop form costs; what one run costs.
bench: install  ## print compile, loop, bundle, cost and fleet figures (about 6 minutes)
	$(BIN)/python bench/bundle.py
	$(BIN)/python bench/compile_time.py
	$(BIN)/python bench/loop_forms.py
	$(BIN)/python bench/cost.py
	$(BIN)/python bench/fleet.py

clean:  ## remove what the targets installed and built
	rm -rf $(VENV) $(SCAN_VENV) build site *.egg-info src/*.egg-info .pytest_cache
