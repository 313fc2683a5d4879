# The README's two commands. Both create .venv and install what they need, so they work on a fresh clone.
# constraints.txt pins every package to the versions the results and the tests were measured with.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
OUT ?= artifacts/default

.PHONY: pipeline test lint clean

$(BIN)/edge-sentiment: pyproject.toml constraints.txt
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c constraints.txt -e '.[dev]'
	touch $@

## train -> convert -> verify -> benchmark on the bundled IMDB reviews, into $(OUT)/
pipeline: $(BIN)/edge-sentiment
	$(BIN)/edge-sentiment pipeline --out $(OUT) --force

## the test suite (about 70 s on 2 cores after the install)
test: $(BIN)/edge-sentiment
	$(BIN)/python -m pytest -q

lint: $(BIN)/edge-sentiment
	$(BIN)/ruff check .

clean:
	rm -rf artifacts .pytest_cache
