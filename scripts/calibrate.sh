#!/usr/bin/env bash
# make calibrate: N A/A runs — the same model as A and B, other sampling seeds — through the
# pipeline (discovery answers → mbd-hypo → mbd-validate on held-out prompts), and how often a run
# validates anything (target: at most alpha) and how the null p-values are distributed (they should
# be uniform, or larger for discrete tests). The describer's threshold is lowered (MIN_Z) so that
# it proposes (noise) hypotheses and validation is exercised; at the default threshold it mostly
# proposes nothing on A/A data, which would make the check empty.
#
# Writes out/calibrate/calibration.json and summary.txt; make demo copies calibration.json into the
# A/A pair's run folder, whose report then plots the null p-values.
#
# Settings (environment): N (50), MODEL (synth:base: the synthetic world's ideal text source, fast;
# or e.g. gguf:PATH for a real model, slow), MIN_Z (2), ALPHA (0.05), BIN (bin), OUT (out).
set -euo pipefail
cd "$(dirname "$0")/.."
abs() { case $1 in /*) echo "$1" ;; *) echo "$(pwd)/$1" ;; esac; }
bin=$(abs "${BIN:-bin}")
out=$(abs "${OUT:-out}")/calibrate
N=${N:-50}
MODEL=${MODEL:-synth:base}
MIN_Z=${MIN_Z:-2}
ALPHA=${ALPHA:-0.05}
mkdir -p "$out/runs"
cd "$out"
"$bin/mbd-synth" prompts --seed 11 -n 300 --validation-fraction 0.5 -o prompts.parquet
ref() { # ref SEED: the model reference with its own sampling seed (synth models take ?seed=)
	case $MODEL in synth:*) echo "$MODEL?seed=$1" ;; *) echo "$MODEL" ;; esac
}
: >pvalues.txt
positives=0
proposed=0
for i in $(seq 1 "$N"); do
	d=runs/$i
	mkdir -p "$d"
	# Each tool's output goes to $d/log; it is printed if a tool fails.
	if ! {
		"$bin/mbd-gen" run --split discovery --model "$(ref $((4 * i)))" --seed $((4 * i)) --label A prompts.parquet -o "$d/gens-a.parquet" &&
			"$bin/mbd-gen" run --split discovery --model "$(ref $((4 * i + 1)))" --seed $((4 * i + 1)) --label B prompts.parquet -o "$d/gens-b.parquet" &&
			"$bin/mbd-hypo" --min-z "$MIN_Z" "$d/gens-a.parquet" "$d/gens-b.parquet" -o "$d/hypotheses.parquet" &&
			"$bin/mbd-validate" --alpha "$ALPHA" --seed $((4 * i + 2)) --hypotheses "$d/hypotheses.parquet" --prompts prompts.parquet \
				--model-a "$(ref $((4 * i + 2)))" --model-b "$(ref $((4 * i + 3)))" -o "$d/validations.parquet"
	} >"$d/log" 2>&1; then
		echo >&2
		cat "$d/log" >&2
		echo "calibrate: run $i failed (log above, also in $out/$d/log)" >&2
		exit 1
	fi
	rows=$("$bin/mbd-table" cat --format csv "$d/validations.parquet")
	n=$("$bin/mbd-table" summary --json "$d/hypotheses.parquet" | sed -n 's/^ *"rows": \([0-9]*\).*/\1/p' | head -1)
	proposed=$((proposed + ${n:-0}))
	# Columns: hypothesis_id,method,judge,n,n_invalid,statistic,statistic_name,effect,effect_name,ci_low,ci_high,p,q,correction,alpha,verdict,...
	echo "$rows" | awk -F, 'NR > 1 && $12 != "" && $12 != "NaN" { print $12 }' >>pvalues.txt
	if echo "$rows" | grep -q ',validated,'; then positives=$((positives + 1)); fi
	printf '\rcalibrate: %d/%d runs, %d with a validated hypothesis' "$i" "$N" "$positives" >&2
done
echo >&2
tests=$(wc -l <pvalues.txt)
{
	printf '{"runs": %d, "positives": %d, "alpha": %s, "model": "%s", "min_z": %s, "hypotheses": %d, "tests": %d, "p_values": [' "$N" "$positives" "$ALPHA" "$MODEL" "$MIN_Z" "$proposed" "$tests"
	paste -sd, pvalues.txt | tr -d '\n'
	printf ']}\n'
} >calibration.json
node -e '
const c = require(process.argv[1]);
const ps = c.p_values.slice().sort((a, b) => a - b);
let d = 0;
ps.forEach((p, i) => { d = Math.max(d, (i + 1) / ps.length - p); });
const crit = Math.sqrt(-Math.log(0.01) / (2 * ps.length));
const fpr = c.positives / c.runs;
// One-sided binomial p of at least this many positive runs if the true rate were alpha.
let binom = 0;
for (let k = c.positives; k <= c.runs; k++) {
  let lc = 0;
  for (let j = 1; j <= k; j++) lc += Math.log(c.runs - k + j) - Math.log(j);
  binom += Math.exp(lc + k * Math.log(c.alpha) + (c.runs - k) * Math.log(1 - c.alpha));
}
console.log(`${c.runs} A/A runs of ${c.model}: ${c.positives} validated a hypothesis (rate ${fpr.toFixed(3)}, target <= ${c.alpha}: ${fpr <= c.alpha ? "met" : "MISSED"}; P(>= ${c.positives} | rate ${c.alpha}) = ${binom.toPrecision(3)})`);
if (ps.length === 0) {
  console.log(`${c.hypotheses} hypotheses proposed (min z ${c.min_z}) and no test had a p-value: the check is empty (lower MIN_Z)`);
} else {
  console.log(`${c.hypotheses} hypotheses proposed (min z ${c.min_z}), ${c.tests} tests with a p-value; one-sided KS D+ = ${d.toFixed(3)} against the uniform (1% critical value ${crit.toFixed(3)}: ${d <= crit ? "not below uniform" : "p-values too small"})`);
}
' "$out/calibration.json" | tee summary.txt
echo "calibrate: $out/calibration.json (make demo puts it into the A/A pair's report)"
