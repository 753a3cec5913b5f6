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
#   control    base vs control         finetuned the same way on data with no trait: its weights
#                                      differ, its behaviour should not; must validate nothing
#
# A pair named TRAIT@STRENGTH (e.g. polite@0.3) is base vs that variant of the suite (make power
# runs those).
#
# Each pair gets a run folder out/demo/PAIR/ with every table, a report (report.html, .md, .json)
# and, where the truth is known, the recovery table; out/demo/summary.md sums up.
#
# The assistant (proposer and judge) is builtin, offline — or an LLM when a key is in the
# environment: OPENAI_API_KEY → openai:gpt-4o-mini, else ANTHROPIC_API_KEY → anthropic:claude-3-5-haiku-latest,
# else GEMINI_API_KEY → gemini:gemini-2.0-flash; ASSISTANT=REF chooses one explicitly (ASSISTANT=builtin
# forces offline). BUDGET (5 dollars per stage) bounds an LLM assistant's spending.
#
# Settings (environment): MODELS_DIR (~/.cache/mbd/models, shared by clones), PAIRS (all of the
# above), PROMPTS (300 prompts, half held out), SEED (0: added to the prompts', samples' and
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
SEED=${SEED:-0}
if [ -z "${ASSISTANT:-}" ]; then
	if [ -n "${OPENAI_API_KEY:-}" ]; then ASSISTANT=openai:gpt-4o-mini
	elif [ -n "${ANTHROPIC_API_KEY:-}" ]; then ASSISTANT=anthropic:claude-3-5-haiku-latest
	elif [ -n "${GEMINI_API_KEY:-}" ]; then ASSISTANT=gemini:gemini-2.0-flash
	else ASSISTANT=builtin; fi
fi
asst="--assistant $ASSISTANT --budget ${BUDGET:-5}"
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

# run PAIR A_REF B_REF TRUTHS|- "TRUTH TEXT"
run() {
	local pair=$1 a=$2 b=$3 truths=$4 truth=$5 d="$out/$1" t0
	t0=$(date +%s)
	echo "== $pair: A=$a B=$b"
	rm -rf "$d"
	mkdir -p "$d"
	cd "$d"
	node -e 'const [t, a, b, truth] = process.argv.slice(1); console.log(JSON.stringify({title: "mbd demo: " + t, model_a: a, model_b: b, truth}))' \
		"$pair" "$a" "$b" "$truth" >run.json
	"$bin/mbd-synth" prompts --seed $((11 + SEED)) -n "$PROMPTS" --validation-fraction 0.5 -o prompts.parquet
	"$bin/mbd-gen" run --split discovery --model "$a" --label A --seed $((5 + 2 * SEED)) $gen prompts.parquet -o gens-a.parquet
	local bseed=$((5 + 2 * SEED))
	[ "$a" = "$b" ] && bseed=$((6 + 2 * SEED)) # A/A: the same model, other sampling seeds
	"$bin/mbd-gen" run --split discovery --model "$b" --label B --seed $bseed $gen prompts.parquet -o gens-b.parquet
	"$bin/mbd-embed" gens-a.parquet gens-b.parquet -o embeddings.parquet
	"$bin/mbd-cluster" --embeddings embeddings.parquet gens-a.parquet gens-b.parquet -o clusters.parquet --centroids centroids.parquet
	"$bin/mbd-match" --clusters clusters.parquet --centroids centroids.parquet gens-a.parquet gens-b.parquet -o matches.parquet
	"$bin/mbd-hypo" $asst --matches matches.parquet --clusters clusters.parquet gens-a.parquet gens-b.parquet -o hypotheses.parquet
	"$bin/mbd-validate" $asst $gen --seed $((1 + SEED)) --hypotheses hypotheses.parquet --prompts prompts.parquet --model-a "$a" --model-b "$b" -o validations.parquet --answers answers.parquet
	"$bin/mbd-model" score --model "$a" answers.parquet -o scores-a.parquet
	"$bin/mbd-model" score --model "$b" answers.parquet -o scores-b.parquet
	local fa=${a#gguf:} fb=${b#gguf:}
	fa=${fa%%\?*} fb=${fb%%\?*}
	case $b in *quant=Q4_0*) fb="${fb%.gguf}.q4_0.gguf" ;; esac
	"$bin/mbd-model" diff -o weightdiff.parquet "$fa" "$fb" >/dev/null
	if [ "$truths" != - ]; then
		cp "$truths" truths.parquet
		"$bin/mbd-truth" score $asst --truths truths.parquet --hypotheses hypotheses.parquet --validations validations.parquet --reference gens-a.parquet -o recovery.parquet
		"$bin/mbd-truth" score $asst --json --truths truths.parquet --hypotheses hypotheses.parquet --validations validations.parquet --reference gens-a.parquet -o recovery.parquet >recovery.json
	fi
	if [ "$pair" = aa ] && [ -f "$top/calibrate/calibration.json" ]; then cp "$top/calibrate/calibration.json" .; fi
	"$bin/mbd-report" . >report.txt
	echo "   $pair done in $(($(date +%s) - t0)) s: $d/report.html"
	cd "$root"
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
	control) run control "gguf:$M/base.gguf?$opts" "gguf:$M/control.gguf?$opts" - "none: finetuned on base-rate data (a control)" ;;
	*@*) run "$p" "gguf:$M/base.gguf?$opts" "gguf:$M/$p.gguf?$opts" "$M/truths-$p.parquet" "trait ${p%@*} inserted at strength ${p#*@}" ;;
	*) echo "demo: unknown pair $p" >&2; exit 2 ;;
	esac
done

bash scripts/demo-summary.sh "$out" $PAIRS | tee "$out/summary.md"
echo "demo: done in $(($(date +%s) - start)) s; reports: $out/*/report.html"
