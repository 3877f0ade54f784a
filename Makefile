# xling's entry point. `make test` on a fresh Debian 12 machine installs what is missing
# (apt packages, the pinned torch wheel in .venv/), builds with ccache + precompiled
# headers, and runs every test (unit, golden, CLI integration, fuzz smoke).
#
#   make test     build + ctest (includes a ~1 min fuzz smoke run)
#   make demo     build + `xling demo`: cross-lingual search and zero-shot transfer with the
#                 embedded model (xling-mini) on this machine's translations, report in demo-report/
#   make tour     build + a tour of the lower-level commands on the bundled fixtures
#   make default-model  retrain models/xling-mini (recipes/xling-mini, ~1 h on 2 cores)
#   make parity   compare with the real HF/safetensors Python stack (installs it into .venv/)
#   make fuzz     long libFuzzer run (FUZZ_SECONDS per target, default 600)
#   make bench    benchmarks with their baselines in the same run
SHELL := /bin/bash
.DEFAULT_GOAL := test

TORCH_VERSION := 2.11.0
# libtorch_cpu.so of the CUDA wheel needs libcudart/libcupti at load time; these two small
# wheels provide them so no system CUDA is required (the rest of CUDA is never loaded).
TORCH_RUNTIME_WHEELS := "cuda-toolkit[cudart,cupti]==13.0.2"
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
JOBS ?= $(shell nproc)
BUILD := build
FUZZ_BUILD := build-fuzz
FUZZ_SECONDS ?= 600
FUZZ_SMOKE_SECONDS ?= 25

APT_PACKAGES := cmake ninja-build g++ ccache clang-14 libclang-rt-14-dev \
  nlohmann-json3-dev libcli11-dev libfmt-dev libgtest-dev libbenchmark-dev \
  libutf8proc-dev libonig-dev libpng-dev \
  libfaiss-dev libopenblas0-pthread libsqlite3-dev libcpp-httplib-dev chromium fonts-dejavu-core

export CCACHE_BASEDIR := $(CURDIR)
export CCACHE_SLOPPINESS := pch_defines,time_macros,include_file_mtime,include_file_ctime

TORCH_STAMP := $(VENV)/.xling-torch-$(TORCH_VERSION)
PARITY_STAMP := $(VENV)/.xling-parity-$(shell md5sum tools/parity/requirements.txt 2>/dev/null | cut -c1-8)

.PHONY: test demo tour default-model parity fuzz fuzz-build bench deps apt build configure clean help

help:
	@sed -n '1,12p' Makefile

# ------------------------------------------------------------------ dependencies
apt:
	@missing=""; for p in $(APT_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $$missing; \
	fi

$(TORCH_STAMP):
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check --no-deps torch==$(TORCH_VERSION)
	$(PY) -m pip install -q --disable-pip-version-check $(TORCH_RUNTIME_WHEELS)
	@touch $@

deps: apt $(TORCH_STAMP)

TORCH_DIR = $(shell $(PY) -c "import importlib.util,os;print(os.path.dirname(importlib.util.find_spec('torch').origin))")

# ------------------------------------------------------------------ build
$(BUILD)/build.ninja: | deps
	cmake -S . -B $(BUILD) -G Ninja -DXLING_TORCH_DIR=$(TORCH_DIR) \
	  -DXLING_FUZZ_BIN_DIR=$(CURDIR)/$(FUZZ_BUILD)/tests/fuzz \
	  -DXLING_FUZZ_SMOKE_SECONDS=$(FUZZ_SMOKE_SECONDS)

configure: deps $(BUILD)/build.ninja

build: configure
	cmake --build $(BUILD) -j $(JOBS)

fuzz-build: deps
	@test -f $(FUZZ_BUILD)/build.ninja || cmake -S . -B $(FUZZ_BUILD) -G Ninja \
	  -DCMAKE_CXX_COMPILER=clang++-14 -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	  -DCMAKE_CXX_FLAGS="-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined" \
	  -DXLING_WITH_TORCH=OFF -DXLING_WITH_INDEX=OFF -DXLING_BUILD_TESTS=OFF -DXLING_FUZZ=ON
	cmake --build $(FUZZ_BUILD) -j $(JOBS)

# ------------------------------------------------------------------ entry points
test: build fuzz-build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

demo: build
	$(BUILD)/bin/xling demo --output-dir demo-report

tour: build
	@bash tools/demo.sh $(BUILD)/bin/xling

# Retrain the embedded model from this machine's catalogs (about 1 h on 2 cores; recipes/xling-mini).
default-model: build $(PARITY_STAMP)
	bash recipes/xling-mini/recipe.sh

$(PARITY_STAMP): $(TORCH_STAMP) tools/parity/requirements.txt
	$(PY) -m pip install -q --disable-pip-version-check -r tools/parity/requirements.txt
	@touch $@

parity: build $(PARITY_STAMP)
	$(PY) tools/parity/run.py --xling $(BUILD)/bin/xling

fuzz: fuzz-build
	@for t in safetensors config tokenizer mo corpus serve_requests chat_template; do \
	  mkdir -p $(FUZZ_BUILD)/corpus/$$t; \
	  echo "fuzzing $$t for $(FUZZ_SECONDS) s"; \
	  $(FUZZ_BUILD)/tests/fuzz/fuzz_$$t -max_total_time=$(FUZZ_SECONDS) -timeout=10 -rss_limit_mb=4096 -max_len=8192 \
	    -print_final_stats=1 $(FUZZ_BUILD)/corpus/$$t tests/fuzz/corpus/$$t 2>&1 | \
	    grep -E "^(stat::|Done|INFO: Running|==)|ERROR|SUMMARY" ; \
	  test $${PIPESTATUS[0]} -eq 0 || exit 1; \
	done

bench: build $(PARITY_STAMP)
	$(BUILD)/bench/bench_safetensors
	$(PY) bench/tokenize_bench.py --mb 50
	$(PY) bench/metrics_bench.py --pairs 100000
	$(PY) bench/encoder_bench.py
	$(PY) bench/train_bench.py
	$(BUILD)/bench/bench_index --n 1000000 --queries 1000 --json bench/results/index_cpu.json
	bash bench/index_realtext.sh 100000
	$(PY) bench/translate_bench.py --shape marian --sentences 1000 --new-tokens 32 --batch 32 --out bench/results/translate_marian_cpu.json
	$(PY) bench/translate_bench.py --shape nllb600m --sentences 100 --new-tokens 32 --batch 16 --out bench/results/translate_nllb600m_cpu.json
	@command -v wrk >/dev/null || { SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); $$SUDO apt-get install -y -qq wrk; }
	$(PY) bench/serve_bench.py --seconds 10 --out bench/results/serve_cpu.json
	$(PY) bench/llm_bench.py --repeats 2 --out bench/results/llm_cpu.json  # llama.cpp rows need /work/llama-venv (see its docstring)

clean:
	rm -rf $(BUILD) $(FUZZ_BUILD)
