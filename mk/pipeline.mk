# The mbd pipeline as Make: one file target per stage output.
#
#   make diff A=REF B=REF RUN=out/NAME [PROMPTS=FILE] [ASSISTANT=REF] [STAGE=COMMAND] [STAGE_FLAGS=...]
#
# A and B are model references (gguf:PATH, openai-compat:URL#MODEL, openai:MODEL, synth:SPEC) or
# recorded answers, recorded:FILE (.csv, .jsonl or .parquet with prompt and completion columns),
# which are imported (mbd-gen import) and validated without a live model (mbd-validate --recorded).
# Every stage output in RUN is a file target whose prerequisites are the stage's program, its
# input tables and a stamp of its command line (RUN/.flags/STAGE, rewritten only when the command
# changes), so:
#   - a rerun of a finished run does nothing (make -q diff ... says it is up to date);
#   - changing one stage's command or flags (CLUSTER_FLAGS='--k 12') reruns that stage and the
#     stages below it only;
#   - a stage is swapped with one variable (EMBED='mbd-embed --embedder gguf:e5.gguf', or any
#     program that reads and writes the same tables);
#   - make -j2 generates A's and B's answers side by side;
#   - make -n diff ... prints the commands, to paste into a shell.
#
# The Makefile includes this file; another Makefile can include it too (set BIN to the folder of
# the mbd tools, or leave the tools on PATH).

BIN ?= bin
RUN ?= out/diff
PROMPTS ?=
ASSISTANT ?= builtin
BUDGET ?= 5
TITLE ?= mbd: $(A) vs $(B)
TRUTH ?=
# A truths table (mbd-truth make, mbd-synth truths): the run scores recovery against it.
TRUTHS ?=
# An A/A calibration (make calibrate's calibration.json) for the report's p-value histogram.
CALIBRATION ?=
PROMPT_COL ?= prompt

# The stages' programs and flags. A program named mbd-X is the tool in BIN.
T := $(if $(MBD_BUILD)$(wildcard $(BIN)/mbd-gen),$(BIN)/)
PROMPTS_CMD ?= $(T)mbd-prompts --validation-fraction 0.5 $(if $(recorded),--text-field $(PROMPT_COL) $(recorded),$(PROMPTS))
IMPORT ?= $(T)mbd-gen import
IMPORT_FLAGS ?= --prompt-col $(PROMPT_COL)
GEN ?= $(T)mbd-gen run
GEN_FLAGS ?= --temperature 1 --max-tokens 320
GEN_SEED_A ?= 1
ifeq ($(A),$(B))
GEN_SEED_B ?= 2
else
GEN_SEED_B ?= 1
endif
EMBED ?= $(T)mbd-embed
EMBED_FLAGS ?=
CLUSTER ?= $(T)mbd-cluster
CLUSTER_FLAGS ?=
MATCH ?= $(T)mbd-match
MATCH_FLAGS ?=
HYPO ?= $(T)mbd-hypo
HYPO_FLAGS ?=
VALIDATE ?= $(T)mbd-validate
VALIDATE_FLAGS ?= --temperature 1 --max-tokens 320 --seed 1
SCORE ?= $(T)mbd-model score
REPORT ?= $(T)mbd-report
REPORT_FLAGS ?=
TRUTH_CMD ?= $(T)mbd-truth score
# Token-level scores of the judged answers for the report: on by default when both models are
# GGUF files (SCORES= turns them off, SCORES=1 asks for them from other models that can score).
SCORES ?= $(if $(filter gguf:%,$(A)),$(if $(filter gguf:%,$(B)),1))
# Two GGUF files for the weight-difference table (mbd-model diff): on by default for two GGUF
# references to different files.
WEIGHTS ?= $(call weights,$(call gguf-file,$(A)),$(call gguf-file,$(B)))

recorded-file = $(patsubst recorded:%,%,$(filter recorded:%,$1))
rec_a := $(call recorded-file,$(A))
rec_b := $(call recorded-file,$(B))
recorded := $(strip $(rec_a) $(rec_b))
gguf-file = $(firstword $(subst ?, ,$(patsubst gguf:%,%,$(filter gguf:%,$1))))
weights = $(if $1,$(if $2,$(if $(filter-out $1,$2),$1 $2)))
q = '$(subst ','\'',$1)'
asst = --assistant $(call q,$(ASSISTANT)) --budget $(BUDGET)
R := $(RUN)

# A stage given as mbd-X finds the tool in BIN.
$(R)/%: export PATH := $(abspath $(BIN)):$(PATH)

# prog: the file a stage command runs, as a prerequisite: BIN/mbd-X for the tools (built by the
# Makefile's rule when it has one, MBD_BUILD), any other program given as a path to a file.
prog = $(call prog-of,$(firstword $1))
prog-of = $(if $(filter mbd-% $(BIN)/mbd-%,$1),$(if $(MBD_BUILD),$(BIN)/$(notdir $1),$(wildcard $(BIN)/$(notdir $1))),$(wildcard $1))
stamp = $(R)/.flags/$1

# The commands, one per stage output (the stamps hold them).
cmd_prompts = $(PROMPTS_CMD) -o $(R)/prompts.parquet
cmd_gens_a = $(if $(rec_a),$(IMPORT) $(IMPORT_FLAGS) --model A --split discovery --prompts $(R)/prompts.parquet $(rec_a) -o $(R)/gens-a.parquet,$(GEN) --split discovery --model $(call q,$(A)) --label A --seed $(GEN_SEED_A) $(GEN_FLAGS) $(R)/prompts.parquet -o $(R)/gens-a.parquet)
cmd_gens_b = $(if $(rec_b),$(IMPORT) $(IMPORT_FLAGS) --model B --split discovery --prompts $(R)/prompts.parquet $(rec_b) -o $(R)/gens-b.parquet,$(GEN) --split discovery --model $(call q,$(B)) --label B --seed $(GEN_SEED_B) $(GEN_FLAGS) $(R)/prompts.parquet -o $(R)/gens-b.parquet)
cmd_rec_a = $(IMPORT) $(IMPORT_FLAGS) --model A --split validation --prompts $(R)/prompts.parquet $(rec_a) -o $(R)/recorded-a.parquet
cmd_rec_b = $(IMPORT) $(IMPORT_FLAGS) --model B --split validation --prompts $(R)/prompts.parquet $(rec_b) -o $(R)/recorded-b.parquet
cmd_embed = $(EMBED) $(EMBED_FLAGS) $(R)/gens-a.parquet $(R)/gens-b.parquet -o $(R)/embeddings.parquet
cmd_cluster = $(CLUSTER) $(CLUSTER_FLAGS) --embeddings $(R)/embeddings.parquet $(R)/gens-a.parquet $(R)/gens-b.parquet -o $(R)/clusters.parquet --centroids $(R)/centroids.parquet
cmd_match = $(MATCH) $(MATCH_FLAGS) --clusters $(R)/clusters.parquet --centroids $(R)/centroids.parquet $(R)/gens-a.parquet $(R)/gens-b.parquet -o $(R)/matches.parquet
cmd_hypo = $(HYPO) $(asst) $(HYPO_FLAGS) --matches $(R)/matches.parquet --clusters $(R)/clusters.parquet $(R)/gens-a.parquet $(R)/gens-b.parquet -o $(R)/hypotheses.parquet
val_models = $(if $(rec_a),--recorded $(R)/recorded-a.parquet --recorded $(R)/recorded-b.parquet,--model-a $(call q,$(A)) --model-b $(call q,$(B)))
cmd_validate = $(VALIDATE) $(asst) $(VALIDATE_FLAGS) --hypotheses $(R)/hypotheses.parquet --prompts $(R)/prompts.parquet $(val_models) -o $(R)/validations.parquet --answers $(R)/answers.parquet
cmd_scores_a = $(SCORE) --model $(call q,$(A)) $(R)/answers.parquet -o $(R)/scores-a.parquet
cmd_scores_b = $(SCORE) --model $(call q,$(B)) $(R)/answers.parquet -o $(R)/scores-b.parquet
cmd_weights = $(T)mbd-model diff -o $(R)/weightdiff.parquet $(WEIGHTS)
cmd_recovery = $(TRUTH_CMD) $(asst) --json --truths $(R)/truths.parquet --hypotheses $(R)/hypotheses.parquet --validations $(R)/validations.parquet --reference $(R)/gens-a.parquet -o $(R)/recovery.parquet
cmd_report = $(REPORT) $(REPORT_FLAGS) $(R)

# The run's outputs: what the report reads.
report_inputs = $(R)/run.json $(R)/validations.parquet \
	$(if $(SCORES),$(R)/scores-a.parquet $(R)/scores-b.parquet) \
	$(if $(WEIGHTS),$(R)/weightdiff.parquet) \
	$(if $(TRUTHS),$(R)/recovery.parquet) $(if $(CALIBRATION),$(R)/calibration.json)

.PHONY: diff
diff: $(R)/report.html

$(R)/report.html: $(report_inputs) $(call stamp,report) $(call prog,$(REPORT))
	$(cmd_report) >$(R)/report.txt

# run.json: the title and the models for the report. The values travel in the environment, so
# any text is safe; JSON escaping of \ and " is done by sed.
$(R)/run.json: export MBD_RUN_TITLE := $(TITLE)
$(R)/run.json: export MBD_RUN_A := $(A)
$(R)/run.json: export MBD_RUN_B := $(B)
$(R)/run.json: export MBD_RUN_TRUTH := $(TRUTH)
$(R)/run.json: $(call stamp,run)
	@j() { printf '%s' "$$1" | sed 's/\\/\\\\/g; s/"/\\"/g; s/\t/\\t/g' | tr -d '\n\r'; }; \
	printf '{"title": "%s", "model_a": "%s", "model_b": "%s", "truth": "%s"}\n' \
		"$$(j "$$MBD_RUN_TITLE")" "$$(j "$$MBD_RUN_A")" "$$(j "$$MBD_RUN_B")" "$$(j "$$MBD_RUN_TRUTH")" >$@

$(R)/prompts.parquet: $(call stamp,prompts) $(call prog,$(PROMPTS_CMD)) $(PROMPTS) $(recorded)
	$(cmd_prompts)

$(R)/gens-a.parquet: $(R)/prompts.parquet $(call stamp,gens_a) $(call prog,$(if $(rec_a),$(IMPORT),$(GEN))) $(rec_a) $(call gguf-file,$(A))
	$(cmd_gens_a)

$(R)/gens-b.parquet: $(R)/prompts.parquet $(call stamp,gens_b) $(call prog,$(if $(rec_b),$(IMPORT),$(GEN))) $(rec_b) $(call gguf-file,$(B))
	$(cmd_gens_b)

$(R)/recorded-a.parquet: $(R)/prompts.parquet $(call stamp,rec_a) $(call prog,$(IMPORT)) $(rec_a)
	$(cmd_rec_a)

$(R)/recorded-b.parquet: $(R)/prompts.parquet $(call stamp,rec_b) $(call prog,$(IMPORT)) $(rec_b)
	$(cmd_rec_b)

$(R)/embeddings.parquet: $(R)/gens-a.parquet $(R)/gens-b.parquet $(call stamp,embed) $(call prog,$(EMBED))
	$(cmd_embed)

# mbd-cluster writes centroids.parquet too, and mbd-validate answers.parquet: the stages below
# depend on clusters.parquet and validations.parquet, which stand for both.
$(R)/clusters.parquet: $(R)/embeddings.parquet $(R)/gens-a.parquet $(R)/gens-b.parquet $(call stamp,cluster) $(call prog,$(CLUSTER))
	$(cmd_cluster)

$(R)/matches.parquet: $(R)/clusters.parquet $(R)/gens-a.parquet $(R)/gens-b.parquet $(call stamp,match) $(call prog,$(MATCH))
	$(cmd_match)

$(R)/hypotheses.parquet: $(R)/matches.parquet $(R)/clusters.parquet $(R)/gens-a.parquet $(R)/gens-b.parquet $(call stamp,hypo) $(call prog,$(HYPO))
	$(cmd_hypo)

$(R)/validations.parquet: $(R)/hypotheses.parquet $(R)/prompts.parquet $(if $(rec_a),$(R)/recorded-a.parquet,$(call gguf-file,$(A))) $(if $(rec_b),$(R)/recorded-b.parquet,$(call gguf-file,$(B))) $(call stamp,validate) $(call prog,$(VALIDATE))
	$(cmd_validate)

$(R)/scores-a.parquet: $(R)/validations.parquet $(call stamp,scores_a) $(call prog,$(SCORE)) $(call gguf-file,$(A))
	$(cmd_scores_a)

$(R)/scores-b.parquet: $(R)/validations.parquet $(call stamp,scores_b) $(call prog,$(SCORE)) $(call gguf-file,$(B))
	$(cmd_scores_b)

$(R)/weightdiff.parquet: $(call stamp,weights) $(call prog,$(T)mbd-model) $(WEIGHTS)
	$(cmd_weights) >/dev/null

$(R)/truths.parquet: $(TRUTHS) $(call stamp,truths)
	cp $(TRUTHS) $@

$(R)/calibration.json: $(CALIBRATION)
	cp $(CALIBRATION) $@

$(R)/recovery.parquet: $(R)/truths.parquet $(R)/hypotheses.parquet $(R)/validations.parquet $(R)/gens-a.parquet $(call stamp,recovery) $(call prog,$(TRUTH_CMD))
	$(cmd_recovery) >$(R)/recovery.json

# The stamps: each holds its stage's command line and is rewritten, while the Makefile is read,
# only when that changes — so a changed command makes its stage (and the stages below) out of date,
# and an unchanged one leaves make -q quiet. Written only for a run (A and B given).
cmd_run = run.json: $(TITLE) | $(A) | $(B) | $(TRUTH)
cmd_truths = cp $(TRUTHS)
stamps := run prompts gens_a gens_b embed cluster match hypo validate report $(if $(rec_a),rec_a) \
	$(if $(rec_b),rec_b) $(if $(SCORES),scores_a scores_b) $(if $(WEIGHTS),weights) \
	$(if $(TRUTHS),truths recovery)
# One shell for all of them; w NAME TEXT rewrites .flags/NAME unless it holds TEXT.
write-stamps = $(shell mkdir -p $(R)/.flags && cd $(R)/.flags && \
	w() { old=; [ -f "$$1" ] && IFS= read -r old <"$$1"; [ "$$old" = "$$2" ] || printf '%s\n' "$$2" >"$$1"; } && \
	$(foreach s,$(stamps),w $s $(call q,$(cmd_$s)) &&) :)
ifneq ($(and $(A),$(B)),)
ifneq ($(if $(rec_a),1)$(if $(rec_b),1),$(if $(rec_a)$(rec_b),11))
$(error make diff: A and B must both be recorded:FILE or both be models (recorded answers are validated against recorded answers))
endif
$(write-stamps)
else ifneq ($(filter diff,$(MAKECMDGOALS)),)
$(error make diff needs two models: A=REF B=REF (gguf:PATH, openai-compat:URL#MODEL, openai:MODEL, synth:SPEC or recorded:FILE) and RUN=DIR)
endif
