# mbd — model behavior diff. `make demo` runs the offline demo; `make test` runs every check.
GO ?= go
BIN := bin
OUT := out

# ggml (llama.cpp) is compiled through cgo from the ollama module: without these flags
# ggml-cpu has no AVX and runs 4-5x slower; -march=native fails to link. internal/llm/llamacpp
# refuses to build without them. CGO_CPPFLAGS points at the module's headers, in the module cache
# at the version go.mod requires (go build downloads the module there when it is missing); it is
# computed only by the targets that compile, so reading this file runs nothing and downloads nothing.
OLLAMA_DIR = $(shell $(GO) env GOMODCACHE)/github.com/ollama/ollama@$(shell sed -n 's|^[[:space:]]*github.com/ollama/ollama \(v[^[:space:]]*\).*|\1|p' go.mod)
GO_TARGETS := build vet unit race fuzz interop env
$(GO_TARGETS): export CGO_CPPFLAGS = -I$(OLLAMA_DIR)/llama/llama.cpp/include -I$(OLLAMA_DIR)/ml/backend/ggml/ggml/include
$(BIN)/.build/%.ok: export CGO_CPPFLAGS = -I$(OLLAMA_DIR)/llama/llama.cpp/include -I$(OLLAMA_DIR)/ml/backend/ggml/ggml/include
export CGO_CFLAGS ?= -O3 -march=x86-64-v3
export CGO_CXXFLAGS ?= -O3 -march=x86-64-v3 -Wno-stringop-overflow
# Go 1.26's SIMD experiment gives GoMLX's pure-Go backend (the trainer, internal/train) its AVX2
# and AVX-512 matrix multiplications: without it they run scalar code and the trainer is 1.4-1.6x
# slower on twice the CPU time (scripts/bench/trainer.sh). Other architectures ignore it.
export GOEXPERIMENT ?= simd

.PHONY: build demo demo-synth demo-small calibrate models power power-small test unit race fuzz interop check-format vet env clean

# The tools are built in $(BIN)/.build and copied to $(BIN) only when they changed (install -C), so
# a tool keeps its time while its code is the same, and make diff reruns only the stages whose
# tool changed.
build:
	$(GO) build -ldflags="-s -w" -o $(BIN)/.build/ ./cmd/...
	@cd $(BIN)/.build && for t in mbd-*; do case $$t in *.ok) ;; *) install -C $$t ../$$t && touch $$t.ok ;; esac; done

# One tool, when a Go source is newer than its last check (the pipeline's stages depend on it).
MBD_BUILD := 1
GO_SOURCES := $(shell find cmd internal -name '*.go' ! -name '*_test.go' 2>/dev/null) go.mod go.sum
$(BIN)/.build/%.ok: $(GO_SOURCES)
	$(GO) build -ldflags="-s -w" -o $(BIN)/.build/$* ./cmd/$*
	install -C $(BIN)/.build/$* $(BIN)/$*
	@touch $@
$(BIN)/mbd-%: $(BIN)/.build/mbd-%.ok ;

# The pipeline on two models: make diff A=REF B=REF RUN=out/NAME (mk/pipeline.mk says more).
include mk/pipeline.mk

# The main job, offline: the model suite (cached) and the whole pipeline on each pair, with
# reports and a summary (scripts/demo.sh).
demo: build
	BIN=$(BIN) OUT=$(OUT) bash scripts/demo.sh

# The pipeline in seconds on two synthetic text sources (no models).
demo-synth: build
	BIN=$(BIN) OUT=$(OUT) bash scripts/demo-synth.sh

# N A/A runs: the share that validates anything (target <= alpha) and the null p-values.
calibrate: build
	BIN=$(BIN) OUT=$(OUT) bash scripts/calibrate.sh

# The weak-difference suite: every trait at strengths 0.1-0.6, a few seeds, detection rate and
# power curve in out/power/ (long: hours on two cores; TRAITS, STRENGTHS, SEEDS make it shorter).
power: build
	BIN=$(BIN) OUT=$(OUT) bash scripts/power.sh

# A few seconds of the weak-difference suite on text sources: the script works and two traits at
# strength 0.6 are detected.
power-small: build
	BIN=$(BIN) OUT=$(OUT)/test SOURCE=synth TRAITS="animal polite" STRENGTHS=0.6 SEEDS=1 bash scripts/power.sh >/dev/null
	grep -q '^| 0.6 | 2 of 2 | 2/2 (100%) |' $(OUT)/test/power/power.md || { cat $(OUT)/test/power/power.md; exit 1; }

# The offline model suite (base + one finetuned variant per trait), cached in out/models.
models: build
	bash scripts/models.sh

test: check-format vet unit race fuzz interop demo-small power-small

# A small version of the demo (one inserted difference, one A/A pair) that must recover the
# difference and validate nothing on A/A; models are cached like make demo's.
demo-small: build
	BIN=$(BIN) OUT=$(OUT)/test PAIRS="topic aa" PROMPTS=200 ASSISTANT=builtin bash scripts/demo.sh
	bash scripts/demo-check.sh $(OUT)/test/demo topic aa

check-format:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed on:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...

unit:
	$(GO) test -count=1 ./...

# The race detector on the packages with concurrency (signals, progress, model backends).
race:
	$(GO) test -count=1 -race -short ./internal/cli/... ./internal/progress/... ./internal/gen/... ./internal/cmd/gencmd/... ./internal/e2e/... ./internal/llm/...

# Short fuzzing of the table readers (seed corpus in internal/table/testdata/fuzz). The budget is a
# count of inputs, not a duration: Go 1.26's coordinator can fail a duration budget at its deadline
# with nothing found (golang/go#75804). Each input must read in under a second (fuzz_test.go).
FUZZ_EXECS ?= 4000x
fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzReadFile$$' -fuzztime $(FUZZ_EXECS) ./internal/table
	$(GO) test -run '^$$' -fuzz '^FuzzReadStdin$$' -fuzztime $(FUZZ_EXECS) ./internal/table

# DuckDB reads every table the tools write (proves the files are standard Parquet).
interop:
	bash scripts/interop.sh

# Print the cgo environment, for running go commands by hand: eval "$$(make -s env)"
env:
	@echo export CGO_CPPFLAGS=\"$(CGO_CPPFLAGS)\" CGO_CFLAGS=\"$(CGO_CFLAGS)\" CGO_CXXFLAGS=\"$(CGO_CXXFLAGS)\" GOEXPERIMENT=\"$(GOEXPERIMENT)\"

clean:
	rm -rf $(BIN) $(OUT)
