# portkern — a first call sets up its own environment; later calls reuse it.
#   make port LIB=blas TARGET=mi300x    port and tune a library for a target
#   make test                           the test suite
#   make dataset                        the nightly dataset job (datasets/nightly.yaml)
#   make lint                           ruff
#   make images                         the CUDA and ROCm worker images (needs a container engine)

SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
LIB ?= blas
TARGET ?= mi300x
ARGS ?=
PYTEST_WORKERS ?= 2

# Debian packages the HIP compile backend needs: clang with the AMDGPU backend and lld,
# the HIP headers and the ROCm device libraries.
APT_PACKAGES := clang-19 lld-19 libamdhip64-dev rocm-device-libs

# Stamps are keyed on the dependency files, so editing them re-runs the set-up.
DEPS_HASH := $(shell cat pyproject.toml Makefile 2>/dev/null | sha256sum | cut -c1-12)
BASE_STAMP := $(VENV)/.stamp-base-$(DEPS_HASH)
TEST_STAMP := $(VENV)/.stamp-test-$(DEPS_HASH)
SYS_STAMP := $(VENV)/.stamp-system-$(DEPS_HASH)

.PHONY: port test dataset lint images setup setup-test system-deps clean-env

$(SYS_STAMP):
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = "0" ]; then \
	    echo "installing Debian packages:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null || exit 1; \
	  else \
	    echo "missing Debian packages:$$missing"; \
	    echo "run: sudo apt-get update && sudo apt-get install -y$$missing"; \
	    exit 1; \
	  fi; \
	fi
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@touch $@

system-deps: $(SYS_STAMP)

$(BASE_STAMP): $(SYS_STAMP)
	@echo "setting up $(VENV) (first run only)"
	@$(BIN)/python -m pip install -q --upgrade pip
	@$(BIN)/python -m pip install -q -e '.[llm,ray]'
	@touch $@

$(TEST_STAMP): $(BASE_STAMP)
	@echo "installing test dependencies (first run only; builds llama-cpp-python from source)"
	@CMAKE_ARGS="-DGGML_NATIVE=OFF" $(BIN)/python -m pip install -q -e '.[llm,ray,dev,testserver]'
	@touch $@

setup: $(BASE_STAMP)
setup-test: $(TEST_STAMP)

port: $(BASE_STAMP)
	$(BIN)/portkern port --lib $(LIB) --target $(TARGET) $(ARGS)

dataset: $(BASE_STAMP)
	$(BIN)/portkern dataset nightly --config datasets/nightly.yaml $(ARGS)

test: $(TEST_STAMP)
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) --dist loadgroup --timeout=1200 -q $(ARGS)

lint: $(TEST_STAMP)
	$(BIN)/ruff check portkern backends tests benchmarks

IMAGE_TAG ?= $(shell sed -n 's/^version = "\(.*\)"/\1/p' pyproject.toml)
CONTAINER ?= docker

images:
	$(CONTAINER) build -f docker/Dockerfile.cuda -t portkern-cuda:$(IMAGE_TAG) .
	$(CONTAINER) build -f docker/Dockerfile.rocm -t portkern-rocm:$(IMAGE_TAG) .

clean-env:
	rm -rf $(VENV)
