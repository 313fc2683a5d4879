# The README's two commands. Both create .venv and install what they need, so they work on a fresh clone.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
OUT ?= artifacts/default

.PHONY: pipeline test lint clean

$(BIN)/edge-sentiment: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

## train -> convert -> verify -> benchmark on the bundled IMDB reviews, into $(OUT)/
pipeline: $(BIN)/edge-sentiment
	$(BIN)/edge-sentiment pipeline --out $(OUT) --force

## the test suite (~5 minutes on 2 cores)
test: $(BIN)/edge-sentiment
	$(BIN)/python -m pytest -q

lint: $(BIN)/edge-sentiment
	$(BIN)/ruff check .

clean:
	rm -rf artifacts .pytest_cache
