# The two commands of the README: `make demo` and `make test`. Both set up .venv first.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
PORT   ?= 8001
QUICK  ?=

.PHONY: demo test soak install bench eval lint clean

# Reinstall only when the project's dependencies change (the stamp is newer than pyproject.toml).
$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[all,dev]'
	HF_HUB_OFFLINE=1 $(BIN)/python -m crux.pipeline.encoders  # onnx-fp32, onnx-int8 and model2vec, once (~3 min)
	@touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/crux demo --db demo.duckdb --port $(PORT)

test: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# The refresh kill harness and 30-refresh soak: 12 to 20 minutes, so not part of `make test`;
# CI (.ci/run) runs it after `make test`.
soak: $(STAMP)
	$(BIN)/python -m pytest -m soak -s $(PYTEST_ARGS)

bench: $(STAMP)
	$(BIN)/python -m benchmarks $(if $(QUICK),--quick,)

eval: $(STAMP)
	$(BIN)/python -m eval

# ruff's lint rules, ruff format on src/ and mypy on src/ (pyproject.toml configures them); .ci/run runs it first.
lint: $(STAMP)
	$(BIN)/ruff check src tests eval benchmarks scripts
	$(BIN)/ruff format --check src
	$(BIN)/mypy

clean:
	rm -rf demo.duckdb demo.duckdb.wal demo.duckdb.lock demo.readonly.duckdb demo.sqlite demo.metadata.yml \
		demo.inspect.json demo-data .demo.*.tmp-* .pytest_cache
