# Homeport: `make run` starts the server, `make test` runs the whole suite.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)
# Test files run in parallel, each file's tests in order on one worker.
TEST_WORKERS ?= 2

.PHONY: run test lint typecheck pytest pytest-postgres bench fuzz setup clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,postgres]'
	rm -f $(VENV)/.installed-*
	touch $@

setup: $(STAMP)

run: setup
	bash scripts/ensure-runtime-packages
	$(BIN)/homeport migrate
	$(BIN)/homeport serve

lint: setup
	$(BIN)/ruff check src tests bench scripts
	$(BIN)/ruff format --check src tests bench scripts

typecheck: setup
	$(BIN)/mypy

pytest: setup
	bash scripts/ensure-test-system-packages
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile

# The same store-touching tests again on PostgreSQL (a cluster the run starts itself);
# the end-to-end and browser tests ran on SQLite above, the several-nodes test on both.
PG_SUITES := tests/web tests/domain tests/store tests/worker tests/git tests/scheduler tests/security tests/ssh tests/runtime
pytest-postgres: setup
	bash scripts/ensure-test-system-packages
	HOMEPORT_TEST_DATABASE=postgres $(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile \
		-m "not e2e and not browser" -p no:cacheprovider $(PG_SUITES)

test: lint typecheck pytest pytest-postgres

bench: setup
	$(BIN)/python bench/api_auth.py

# Not part of `make test`: schemathesis against a real `homeport serve`
# FUZZ_EXAMPLES examples in total, 2000 by default.
fuzz: setup
	$(BIN)/python scripts/fuzz.py

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
