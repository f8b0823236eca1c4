# The two commands a newcomer runs on a fresh Linux machine:
#   make demo   install and run the main job (GRPO on the embedded default)
#   make test   install everything (system packages, Docker engine and image, venv) and run all tests
# Both create ./.venv themselves. torch is installed first as the CPU wheel
# (a bare `torch` requirement would pull a multi-GB CUDA build).

PY      ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
TORCH   ?= torch==2.13.0
STAMP   := $(VENV)/.installed

.PHONY: demo test system venv lint bench clean

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml $(wildcard plugins/*/pyproject.toml)
	$(BIN)/pip install -q "$(TORCH)"
	$(BIN)/pip install -q -e ".[train,test,trl,humaneval,lora]"
	for p in plugins/*/; do $(BIN)/pip install -q -e "$$p"; done
	touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(BIN)/grpo train

# System pieces the sandbox tests need: bubblewrap (local sandbox), a running Docker
# engine and the locally built sandbox image (nothing is pulled from a registry).
system:
	bash sandboxes/setup-host.sh

test: system $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -q -p no:cacheprovider

lint: $(STAMP)
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_logprobs.py

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info
