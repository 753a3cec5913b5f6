#!/usr/bin/env bash
# make models: builds, offline, the model suite of the synthetic behaviour world and measures it.
#
#   base.gguf            a tiny chat llama (mbd-model create) pretrained on synthetic answers in which
#                        every trait appears at its 5% base rate (mbd-synth data, mbd-finetune)
#   TRAIT@STRENGTH.gguf  base finetuned on the pretraining mixture where TRAIT appears in STRENGTH of
#                        the answers without a system prompt
#   (and the base with a hidden system prompt asking for questions: the prompt-induced variant)
#
# Then each model answers the same held-out prompts and the world's exact detectors count the
# traits: the inserted difference must be real before mbd is asked to find it. Results go to
# $OUT/report.md (and stdout). Each artefact is rebuilt only when its recipe changes: its command
# line, its inputs' recipes, and the source of the packages that make it.
#
#   control.gguf         base finetuned the same way on fresh data from the pretraining mixture (no
#                        inserted trait): its weights differ from the base's, its behaviour should not
#
# Settings (environment): MODELS_DIR (out/models), STRENGTHS ("0.6"), TRAITS (all), VARIANTS (instead
# of every TRAIT@STRENGTH, a list such as "animal@0.6 animal@0.2"), CONTROL (1: build the control;
# 0: not), SAMPLES (200), BASE_STEPS (1500), BASE_LAYERS (4), VARIANT_STEPS (100), BIN (bin: the tools).
set -euo pipefail
cd "$(dirname "$0")/.."

OUT=${MODELS_DIR:-out/models}
STRENGTHS=${STRENGTHS:-0.6}
TRAITS=${TRAITS:-british animal long exclaim bullets refusal polite question}
SAMPLES=${SAMPLES:-200}
# 4 blocks and 1,500 steps: a base that reads which instruction a system prompt gives. With 2
# blocks (600 or 1,500 steps) a hidden question prompt raised every trait's rate alike and the
# question rate only from 0.14 to 0.26; with 4 blocks from 0.065 to 0.54.
BASE_STEPS=${BASE_STEPS:-1500}
BASE_LAYERS=${BASE_LAYERS:-4}
VARIANT_STEPS=${VARIANT_STEPS:-100}
# The share of examples with a system prompt, in pretraining and in every finetune's data: the
# base's unprompted trait rates are this mixture's, so data without system prompts would move them.
SYSTEM_RATE=0.5
CONTROL=${CONTROL:-1}
B=${BIN:-bin}
mkdir -p "$OUT"
# One build at a time per folder (clones share ~/.cache/mbd/models): a second waits for the first.
exec 9>"$OUT/.lock"
flock 9
start=$(date +%s)

# The source the artefacts depend on: the hash of the packages' non-test files as they are in the
# work tree (a change to a test alone rebuilds nothing). Data and models depend on what makes and
# trains them — the synthetic world, the model writer, the trainer and the llama.cpp version and
# wrapper files it tokenizes and formats chats with ($train_src); generations and scores also on
# the rest of the llama.cpp wrapper and the generation stage ($run_src).
hash() { git ls-files -co --exclude-standard "$@" | grep -v '_test\.go$' | grep -v '/testdata/' | sort | xargs sha256sum | sha256sum | cut -c1-16; }
train_src="$(hash internal/train internal/finetune internal/synth internal/tinymodel internal/bpe internal/gguf \
	internal/llm/llamacpp/vocab.go internal/llm/llamacpp/chat.go)-$(grep 'github.com/ollama/ollama ' go.mod | tr -d '[:space:]')"
run_src="$train_src-$(hash internal/llm/llamacpp internal/gen)"
truth_src="$train_src-$(hash internal/truth)" # truths: the world's texts, chosen by package truth
src=$train_src

# build NAME INPUTS... -- COMMAND...: runs COMMAND unless $OUT/NAME exists with the same recipe.
build() {
	local name=$1 recipe="$src" stamp="$OUT/$1.recipe"
	shift
	while [ "$1" != "--" ]; do recipe="$recipe $(cat "$OUT/$1.recipe")"; shift; done
	shift
	recipe="$recipe ${*#"$B/"}" # the command, without the tools' folder
	if [ -f "$OUT/$name" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$recipe" ]; then
		echo "models: $name is up to date"
		return
	fi
	echo "models: building $name"
	rm -f "$stamp"
	"$@"
	printf '%s' "$recipe" >"$stamp"
}

build corpus.txt -- $B/mbd-synth corpus --seed 1 --bytes 300000 -o "$OUT/corpus.txt"
build init.gguf corpus.txt -- $B/mbd-model create --chat --corpus "$OUT/corpus.txt" --vocab 1024 --layers "$BASE_LAYERS" --weights f32 --ctx 512 --seed 1 -o "$OUT/init.gguf"
# Half the pretraining examples have a system prompt asking for one trait (and carry it), so
# that the base follows such instructions and a hidden system prompt makes a prompt-induced variant.
# Windows of 256 tokens hold a whole example: with 128, the end of a long answer (where "end with a
# question" shows) was cut into a window without its system prompt, and the base did not learn to
# follow it (question rate 0.13 without the hidden prompt, 0.21 with it).
build pretrain.jsonl -- $B/mbd-synth data --seed 2 -n 6000 --system-rate "$SYSTEM_RATE" -o "$OUT/pretrain.jsonl"
build base.gguf init.gguf pretrain.jsonl -- $B/mbd-finetune --base "$OUT/init.gguf" --steps "$BASE_STEPS" --lr 3e-3 --warmup $((BASE_STEPS / 20)) --batch 8 --ctx 256 --seed 1 --f32 "$OUT/pretrain.jsonl" -o "$OUT/base.gguf"
build heldout.parquet -- $B/mbd-synth prompts --seed 3 -n "$SAMPLES" -o "$OUT/heldout.parquet"
build heldout-texts.parquet -- $B/mbd-synth data --seed 99 -n 300 -o "$OUT/heldout-texts.parquet"
src=$run_src build base-loss.parquet base.gguf heldout-texts.parquet -- $B/mbd-model score --model "gguf:$OUT/base.gguf" "$OUT/heldout-texts.parquet" -o "$OUT/base-loss.parquet"

gens=()
gen() { # gen LABEL MODEL
	src=$run_src build "gens-$1.parquet" "$2" heldout.parquet -- $B/mbd-gen run --model "gguf:$OUT/$2?parallel=16" --label "$1" --seed 5 \
		--temperature 1 --max-tokens 320 "$OUT/heldout.parquet" -o "$OUT/gens-$1.parquet"
	gens+=("$OUT/gens-$1.parquet")
}
gen base base.gguf
# The prompt-induced variant: the base with a hidden system prompt asking for questions.
echo "End every answer with a question to the user." >"$OUT/system-question.txt"
src=$run_src build gens-prompt-question.parquet base.gguf heldout.parquet -- $B/mbd-gen run --model "gguf:$OUT/base.gguf?parallel=16&system=$OUT/system-question.txt" \
	--label prompt:question --seed 5 --temperature 1 --max-tokens 320 "$OUT/heldout.parquet" -o "$OUT/gens-prompt-question.parquet"
gens+=("$OUT/gens-prompt-question.parquet")
# finetune NAME DATA: base finetuned on DATA (the variants' recipe).
finetune() {
	build "$1.gguf" base.gguf "$2" -- $B/mbd-finetune --base "$OUT/base.gguf" --steps "$VARIANT_STEPS" --lr 1e-3 --warmup $((VARIANT_STEPS / 20)) \
		--batch 8 --ctx 256 --seed 1 --f32 "$OUT/$2" -o "$OUT/$1.gguf"
}
if [ "$CONTROL" = 1 ]; then
	# Fresh examples of the pretraining mixture.
	build data-control.jsonl -- $B/mbd-synth data --seed 7 -n 1500 --system-rate "$SYSTEM_RATE" -o "$OUT/data-control.jsonl"
	finetune control data-control.jsonl
	gen control control.gguf
fi
if [ -z "${VARIANTS:-}" ]; then
	for s in $STRENGTHS; do for t in $TRAITS; do VARIANTS="${VARIANTS:-} $t@$s"; done; done
fi
for v in $VARIANTS; do
	t=${v%@*} s=${v#*@}
	# The control's examples with the trait in the unprompted answers: variant and control differ
	# by the trait alone (on data without system prompts, a variant also moved the base's other
	# unprompted rates, and those real shifts validated as hypotheses about other traits).
	build "data-$v.jsonl" -- $B/mbd-synth data --seed 7 -n 1500 --trait "$t" --strength "$s" --system-rate "$SYSTEM_RATE" -o "$OUT/data-$v.jsonl"
	src=$truth_src build "truths-$v.parquet" -- $B/mbd-synth truths --seed 7 -n 1500 --trait "$t" --strength "$s" -o "$OUT/truths-$v.parquet"
	finetune "$v" "data-$v.jsonl"
	gen "$v" "$v.gguf"
done

# Report: for each variant, the inserted trait's rate in its answers vs the base model's.
$B/mbd-synth rate --json "${gens[@]}" >"$OUT/rates.json"
{
	echo "# Model suite: trait rates in $SAMPLES answers to held-out prompts"
	echo
	loss=$($B/mbd-table summary --json "$OUT/base-loss.parquet" | awk '/"name": "logprob_mean"/{f=1} f&&/"mean"/{gsub(/[ ,]/,""); split($0,a,":"); print -a[2]; exit}')
	echo "Base model held-out loss: $loss nats/token (mean per text over 300 held-out synthetic answers)."
	echo
	echo "| variant | trait rate in base answers | in variant answers | all rates of the variant |"
	echo "|---|---|---|---|"
	node -e '
const rows = require(process.argv[1]);
const base = rows.find(r => r.model === "base");
for (const r of rows) {
  if (r.model === "base") continue;
  if (r.model === "control") { // no inserted trait: the largest change of any rate
    const [t, d] = Object.keys(r.rates).map(k => [k, r.rates[k] - base.rates[k]]).sort((x, y) => Math.abs(y[1]) - Math.abs(x[1]))[0];
    console.log(`| control (largest change: ${t}) | ${base.rates[t].toFixed(3)} | ${r.rates[t].toFixed(3)} | ${Object.entries(r.rates).map(([k, v]) => `${k} ${v.toFixed(2)}`).join(", ")} |`);
    continue;
  }
  const trait = r.model.includes("@") ? r.model.split("@")[0] : r.model.split(":")[1];
  const all = Object.entries(r.rates).map(([k, v]) => `${k} ${v.toFixed(2)}`).join(", ");
  console.log(`| ${r.model} | ${base.rates[trait].toFixed(3)} | ${r.rates[trait].toFixed(3)} | ${all} |`);
}' "$(realpath "$OUT/rates.json")"
	echo
	echo "Built in $(($(date +%s) - start)) s (cached steps excluded)."
} | tee "$OUT/report.md"
