# tierbot: `make demo` plays the story on this machine, `make test` runs every check.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install demo test lint typecheck migrations-check bench clean

install: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[dev]"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/tierbot demo

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy bot

# The models and the migrations must describe the same schema.
migrations-check: $(STAMP)
	@tmp=$$(mktemp -d) && \
	TIERBOT_DATABASE_URL=sqlite:///$$tmp/check.db $(BIN)/tierbot db upgrade >/dev/null && \
	TIERBOT_DATABASE_URL=sqlite:///$$tmp/check.db $(BIN)/alembic check && \
	rm -rf $$tmp

test: lint typecheck migrations-check
	$(BIN)/pytest

bench: $(STAMP)
	$(BIN)/python bench/ingest.py

clean:
	rm -rf $(VENV) demo-output .pytest_cache .mypy_cache .ruff_cache
