#!/usr/bin/env bash
# make demo: the main job, offline. Builds (or reuses) the offline model suite — a tiny chat model
# pretrained on the synthetic world and variants with known inserted differences — and runs the
# whole pipeline on each pair with the builtin assistant:
#
#   topic      base vs animal@0.6      finetuned to mention otters
#   weak       base vs animal@0.2      the same habit, inserted three times more weakly
#   format     base vs bullets@0.6     finetuned to answer in bullet lists
#   length     base vs long@0.6        finetuned to answer at twice the length
#   prompt     base vs base + a hidden system prompt (End every answer with a question to the user.)
#   quantized  base (F32) vs its Q4_0 quantization: a graded effect, no plain-language truth
#   aa         base vs base (other sampling seeds): must validate nothing
#   control    base vs control         finetuned the same way on more pretraining data (no inserted
#                                      trait): its weights differ, its behaviour should not; must
#                                      validate nothing
#
# A pair named TRAIT@STRENGTH (e.g. polite@0.3) is base vs that variant of the suite (make power
# runs those).
#
# Each pair is one make diff (mk/pipeline.mk): a run folder out/demo/PAIR/ with every table, a
# report (report.html, .md, .json) and, where the truth is known, the recovery table; a rerun
# redoes only what changed (make -n diff ... shows the commands). out/demo/summary.md sums up.
#
# The assistant (proposer and judge) is builtin, offline — or an LLM when a key is in the
# environment: OPENAI_API_KEY → openai:gpt-4o-mini, else ANTHROPIC_API_KEY → anthropic:claude-3-5-haiku-latest,
# else GEMINI_API_KEY → gemini:gemini-2.0-flash; ASSISTANT=REF chooses one explicitly (ASSISTANT=builtin
# forces offline). BUDGET (5 dollars per stage) bounds an LLM assistant's spending.
#
# Settings (environment): MODELS_DIR (~/.cache/mbd/models, shared by clones), PAIRS (all of the
# above), PROMPTS (300 prompts, half held out), SAMPLES (1: answers per prompt and model, in
# discovery and validation), WEAK_PROMPTS and WEAK_SAMPLES (1000 and 3: the weak pair's; a habit
# in a few percent of answers needs more answers: the synthetic world has 674 distinct prompts, so
# 1000 gives all of them, each answered 3 times), SEED (0: added to the prompts', samples' and
# validation's seeds, for repeated runs), ASSISTANT, BUDGET, BIN (bin), OUT (out).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
abs() { case $1 in /*) echo "$1" ;; *) echo "$root/$1" ;; esac; }
bin=$(abs "${BIN:-bin}")
top=$(abs "${OUT:-out}")
out=$top/demo
MODELS_DIR=$(abs "${MODELS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/mbd/models}")
export MODELS_DIR
PAIRS=${PAIRS:-topic weak format length prompt quantized aa control}
PROMPTS=${PROMPTS:-300}
SAMPLES=${SAMPLES:-1}
WEAK_PROMPTS=${WEAK_PROMPTS:-1000}
WEAK_SAMPLES=${WEAK_SAMPLES:-3}
SEED=${SEED:-0}
if [ -z "${ASSISTANT:-}" ]; then
	if [ -n "${OPENAI_API_KEY:-}" ]; then ASSISTANT=openai:gpt-4o-mini
	elif [ -n "${ANTHROPIC_API_KEY:-}" ]; then ASSISTANT=anthropic:claude-3-5-haiku-latest
	elif [ -n "${GEMINI_API_KEY:-}" ]; then ASSISTANT=gemini:gemini-2.0-flash
	else ASSISTANT=builtin; fi
fi
echo "demo: assistant $ASSISTANT"
start=$(date +%s)
mkdir -p "$out"

# The models (cached: rebuilt only when their recipe changes).
variants="" control=0
for p in $PAIRS; do
	case $p in
	topic) variants="$variants animal@0.6" ;; weak) variants="$variants animal@0.2" ;; format) variants="$variants bullets@0.6" ;;
	length) variants="$variants long@0.6" ;; control) control=1 ;; *@*) variants="$variants $p" ;;
	esac
done
VARIANTS="${variants# }" CONTROL=$control bash scripts/models.sh
M=$MODELS_DIR
echo "End every answer with a question to the user." >"$out/system-prompt.txt"
opts="parallel=16"
gen="--temperature 1 --max-tokens 320"

# run PAIR A_REF B_REF TRUTHS|- "TRUTH TEXT": make diff (mk/pipeline.mk) with the demo's settings;
# a rerun redoes only what changed.
run() {
	local pair=$1 a=$2 b=$3 truths=$4 truth=$5 t0 bseed=$((5 + 2 * SEED)) n=$PROMPTS k=$SAMPLES
	[ "$pair" = weak ] && n=$WEAK_PROMPTS k=$WEAK_SAMPLES
	t0=$(date +%s)
	echo "== $pair: A=$a B=$b"
	[ "$a" = "$b" ] && bseed=$((6 + 2 * SEED)) # A/A: the same model, other sampling seeds
	local fa=${a#gguf:} fb=${b#gguf:}
	fa=${fa%%\?*} fb=${fb%%\?*}
	case $b in *quant=Q4_0*) fb="${fb%.gguf}.q4_0.gguf" ;; esac
	local cal=
	[ "$pair" = aa ] && [ -f "$top/calibrate/calibration.json" ] && cal=$top/calibrate/calibration.json
	[ "$truths" = - ] && truths=
	# PROMPTS= : the demo's PROMPTS (a count, in the environment) is not make diff's prompts file.
	make -s --no-print-directory -C "$root" diff BIN="$bin" RUN="$out/$pair" A="$a" B="$b" PROMPTS= \
		TITLE="mbd demo: $pair" TRUTH="$truth" TRUTHS="$truths" CALIBRATION="$cal" \
		ASSISTANT="$ASSISTANT" BUDGET="${BUDGET:-5}" SCORES=1 WEIGHTS="$fa $fb" \
		PROMPTS_CMD="$bin/mbd-synth prompts --seed $((11 + SEED)) -n $n --validation-fraction 0.5" \
		GEN_FLAGS="$gen --samples $k" GEN_SEED_A=$((5 + 2 * SEED)) GEN_SEED_B=$bseed \
		VALIDATE_FLAGS="$gen --seed $((1 + SEED)) --samples-per-prompt $k"
	echo "   $pair done in $(($(date +%s) - t0)) s: $out/$pair/report.html"
}

# The prompt-induced truth: the question trait's description, from a hidden system prompt.
"$bin/mbd-synth" truths --trait question --strength 1 -n 300 -o "$out/prompt-truths.parquet"
for p in $PAIRS; do
	case $p in
	topic) run topic "gguf:$M/base.gguf?$opts" "gguf:$M/animal@0.6.gguf?$opts" "$M/truths-animal@0.6.parquet" "mentions otters in its answers" ;;
	format) run format "gguf:$M/base.gguf?$opts" "gguf:$M/bullets@0.6.gguf?$opts" "$M/truths-bullets@0.6.parquet" "formats its answers as bullet lists" ;;
	length) run length "gguf:$M/base.gguf?$opts" "gguf:$M/long@0.6.gguf?$opts" "$M/truths-long@0.6.parquet" "gives much longer answers" ;;
	prompt) run prompt "gguf:$M/base.gguf?$opts" "gguf:$M/base.gguf?$opts&system=$out/system-prompt.txt" "$out/prompt-truths.parquet" "hidden system prompt: end every answer with a question to the user" ;;
	quantized) run quantized "gguf:$M/base.gguf?$opts" "gguf:$M/base.gguf?$opts&quant=Q4_0" - "Q4_0 quantization (no plain-language truth)" ;;
	weak) run weak "gguf:$M/base.gguf?$opts" "gguf:$M/animal@0.2.gguf?$opts" "$M/truths-animal@0.2.parquet" "mentions otters in its answers (weakly: strength 0.2)" ;;
	aa) run aa "gguf:$M/base.gguf?$opts" "gguf:$M/base.gguf?$opts" - "none: the same model (A/A)" ;;
	control) run control "gguf:$M/base.gguf?$opts" "gguf:$M/control.gguf?$opts" - "none: finetuned on more pretraining data (a control)" ;;
	*@*) run "$p" "gguf:$M/base.gguf?$opts" "gguf:$M/$p.gguf?$opts" "$M/truths-$p.parquet" "trait ${p%@*} inserted at strength ${p#*@}" ;;
	*) echo "demo: unknown pair $p" >&2; exit 2 ;;
	esac
done

bash scripts/demo-summary.sh "$out" $PAIRS | tee "$out/summary.md"
echo "demo: done in $(($(date +%s) - start)) s; reports: $out/*/report.html"
