#!/usr/bin/env bash
# make power: the weak-difference suite. Every trait of the synthetic world is inserted at several
# strengths (the share of answers that carry it) and compared with the base by the whole pipeline
# (builtin assistant) under a few seeds; a run detects its trait when a validated hypothesis
# recovers it (mbd-truth score). The power curve plots the detection rate against the trait-rate
# difference measured by the world's exact detectors.
#
# Two sources: SOURCE=models (default) uses the model suite — base vs base finetuned on answers with
# the trait at that strength (scripts/demo.sh on TRAIT@STRENGTH pairs; rates measured on 200
# held-out answers of each model); SOURCE=synth uses the world's ideal text sources
# (synth:TRAIT=STRENGTH vs synth:base; rates measured on the run's discovery answers), seconds
# per run instead of minutes.
#
# Writes $OUT/power/: runs.csv (one row per trait, strength and seed), power.md (detection rate per
# trait and strength, and per strength: the share of detectable traits detected and the precision
# of the validated hypotheses) and power.svg (the curve).
#
# Settings (environment): SOURCE (models or synth), TRAITS (all), STRENGTHS ("0.1 0.2 0.3 0.6"),
# SEEDS ("1 2"), DETECTABLE (0.05: a trait whose rate rises by less is not counted as detectable),
# PROMPTS (models 1000, synth 300), SAMPLES (models only, 3: answers per prompt and model),
# MIN_Z (synth: the describer's threshold, mbd-hypo --min-z), VALIDATE_FLAGS (synth: more
# mbd-validate flags), MODELS_DIR, BIN (bin), OUT (out).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
abs() { case $1 in /*) echo "$1" ;; *) echo "$root/$1" ;; esac; }
top=$(abs "${OUT:-out}")
bin=$(abs "${BIN:-bin}")
out=$top/power
SOURCE=${SOURCE:-models}
TRAITS=${TRAITS:-british animal long exclaim bullets refusal polite question}
STRENGTHS=${STRENGTHS:-0.1 0.2 0.3 0.6}
SEEDS=${SEEDS:-1 2}
DETECTABLE=${DETECTABLE:-0.05}
# The model suite's runs read every distinct prompt of the world (674 of 1000 drawn) 3 times, as
# the demo's weak pair does; text sources 300 prompts once.
if [ "$SOURCE" = models ]; then PROMPTS=${PROMPTS:-1000}; else PROMPTS=${PROMPTS:-300}; fi
SAMPLES=${SAMPLES:-3}
MODELS_DIR=$(abs "${MODELS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/mbd/models}")
export MODELS_DIR
start=$(date +%s)
pairs=""
for s in $STRENGTHS; do for t in $TRAITS; do pairs="$pairs $t@$s"; done; done
pairs=${pairs# }
rm -rf "$out"
mkdir -p "$out/runs"

# rate FILE TRAIT MODEL: the trait's rate in MODEL's answers (mbd-synth rate --json output).
rate() {
	node -e 'const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")).find((x) => x.model === process.argv[3]); console.log(r.rates[process.argv[2]])' "$1" "$2" "$3"
}

case $SOURCE in
models)
	VARIANTS=$pairs CONTROL=0 bash scripts/models.sh >"$out/models.log"
	cp "$MODELS_DIR/rates.json" "$out/rates.json"
	for seed in $SEEDS; do
		echo "power: seed $seed, $(echo $pairs | wc -w) pairs"
		OUT="$out/seed-$seed" SEED=$seed PAIRS=$pairs PROMPTS=$PROMPTS SAMPLES=$SAMPLES ASSISTANT=builtin BIN="$bin" bash scripts/demo.sh >"$out/seed-$seed.log" 2>&1 ||
			{ tail -20 "$out/seed-$seed.log" >&2; echo "power: seed $seed failed (log: $out/seed-$seed.log)" >&2; exit 1; }
		for v in $pairs; do
			d=$out/runs/$v/seed-$seed
			mkdir -p "$d"
			cp "$out/seed-$seed/demo/$v/recovery.json" "$d/"
			printf '{"trait": "%s", "strength": %s, "seed": %s, "base": %s, "variant": %s}\n' "${v%@*}" "${v#*@}" "$seed" \
				"$(rate "$out/rates.json" "${v%@*}" base)" "$(rate "$out/rates.json" "${v%@*}" "$v")" >"$d/run.json"
		done
	done
	;;
synth)
	n=0
	for seed in $SEEDS; do
		for v in $pairs; do
			t=${v%@*} s=${v#*@} d=$out/runs/$v/seed-$seed
			a="synth:base?seed=$((100 * seed + 1))" b="synth:$t=$s?seed=$((100 * seed + 2))"
			mkdir -p "$d"
			(
				cd "$d"
				"$bin/mbd-synth" prompts --seed "$seed" -n "$PROMPTS" --validation-fraction 0.5 -o prompts.parquet
				"$bin/mbd-gen" run --split discovery --model "$a" --label A prompts.parquet -o gens-a.parquet
				"$bin/mbd-gen" run --split discovery --model "$b" --label B prompts.parquet -o gens-b.parquet
				"$bin/mbd-embed" gens-a.parquet gens-b.parquet -o embeddings.parquet
				"$bin/mbd-cluster" --embeddings embeddings.parquet gens-a.parquet gens-b.parquet -o clusters.parquet --centroids centroids.parquet
				"$bin/mbd-match" --clusters clusters.parquet --centroids centroids.parquet gens-a.parquet gens-b.parquet -o matches.parquet
				"$bin/mbd-hypo" ${MIN_Z:+--min-z "$MIN_Z"} --matches matches.parquet --clusters clusters.parquet gens-a.parquet gens-b.parquet -o hypotheses.parquet
				"$bin/mbd-validate" ${VALIDATE_FLAGS:-} --seed "$seed" --hypotheses hypotheses.parquet --prompts prompts.parquet \
					--model-a "synth:base?seed=$((100 * seed + 3))" --model-b "synth:$t=$s?seed=$((100 * seed + 4))" -o validations.parquet
				"$bin/mbd-synth" truths --trait "$t" --strength 1 -n 300 -o truths.parquet
				"$bin/mbd-truth" score --json --truths truths.parquet --hypotheses hypotheses.parquet --validations validations.parquet --reference gens-a.parquet -o recovery.parquet >recovery.json
				"$bin/mbd-synth" rate --json gens-a.parquet gens-b.parquet >rates.json
				printf '{"trait": "%s", "strength": %s, "seed": %s, "base": %s, "variant": %s}\n' "$t" "$s" "$seed" "$(rate rates.json "$t" A)" "$(rate rates.json "$t" B)" >run.json
			) >"$d/log" 2>&1 || { cat "$d/log" >&2; echo "power: $v seed $seed failed (log: $d/log)" >&2; exit 1; }
			n=$((n + 1))
			printf '\rpower: %d runs' "$n" >&2
		done
	done
	echo >&2
	;;
*) echo "power: SOURCE=$SOURCE: want models or synth" >&2; exit 2 ;;
esac
node - "$out" "$DETECTABLE" $(echo $SEEDS | wc -w) <<'JS'
const fs = require("fs");
const [out, detectable, nseeds] = process.argv.slice(2);
const rows = [];
for (const v of fs.readdirSync(`${out}/runs`)) {
  for (const sd of fs.readdirSync(`${out}/runs/${v}`)) {
    const d = `${out}/runs/${v}/${sd}`;
    const run = JSON.parse(fs.readFileSync(`${d}/run.json`, "utf8"));
    const rec = JSON.parse(fs.readFileSync(`${d}/recovery.json`, "utf8"));
    rows.push({ ...run, diff: run.variant - run.base, detected: rec.recovered > 0 ? 1 : 0, validated: rec.validated, precise: rec.precise });
  }
}
rows.sort((a, b) => a.strength - b.strength || a.trait.localeCompare(b.trait) || a.seed - b.seed);
const cols = ["trait", "strength", "seed", "base", "variant", "diff", "detected", "validated", "precise"];
fs.writeFileSync(`${out}/runs.csv`, [cols.join(","), ...rows.map((r) => cols.map((c) => r[c]).join(","))].join("\n") + "\n");

const strengths = [...new Set(rows.map((r) => r.strength))];
const traits = [...new Set(rows.map((r) => r.trait))].sort();
const cell = (t, s) => rows.filter((r) => r.trait === t && r.strength === s);
const mean = (c, k) => c.reduce((a, r) => a + r[k], 0) / c.length;
let md = `# Weak-difference suite: detection rate per trait and strength\n\n`;
md += `Each cell: runs (of ${nseeds} seeds) in which a validated hypothesis recovered the trait, and the trait's rate in base → variant answers.\n\n`;
md += `| trait | ${strengths.map((s) => `strength ${s}`).join(" | ")} |\n|---|${strengths.map(() => "---").join("|")}|\n`;
for (const t of traits) {
  md += `| ${t} | ${strengths.map((s) => { const c = cell(t, s); return `${c.reduce((a, r) => a + r.detected, 0)}/${c.length} (${mean(c, "base").toFixed(2)} → ${mean(c, "variant").toFixed(2)})`; }).join(" | ")} |\n`;
}
md += `\n| strength | detectable traits (rate rise ≥ ${detectable}) | detected runs of detectable traits | validated hypotheses that name a trait (precision) |\n|---|---|---|---|\n`;
for (const s of strengths) {
  const rs = rows.filter((r) => r.strength === s);
  const det = rs.filter((r) => r.diff >= Number(detectable));
  const v = rs.reduce((a, r) => a + r.validated, 0), p = rs.reduce((a, r) => a + r.precise, 0);
  const share = det.length ? det.reduce((a, r) => a + r.detected, 0) / det.length : NaN;
  md += `| ${s} | ${new Set(det.map((r) => r.trait)).size} of ${traits.length} | ${det.reduce((a, r) => a + r.detected, 0)}/${det.length} (${(100 * share).toFixed(0)}%) | ${p}/${v} (${v ? (100 * p / v).toFixed(0) : "—"}%) |\n`;
}
fs.writeFileSync(`${out}/power.md`, md);

// The curve: detection rate against the measured rate difference, in bins of 0.1, with each
// trait-strength cell as a point.
const W = 520, H = 320, L = 50, B = 40, xmax = Math.max(0.5, ...rows.map((r) => r.diff)) , xmin = Math.min(0, ...rows.map((r) => r.diff));
const X = (d) => L + (W - L - 20) * (d - xmin) / (xmax - xmin), Y = (p) => H - B - (H - B - 20) * p;
let svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="11">\n`;
svg += `<line x1="${L}" y1="${Y(0)}" x2="${W - 20}" y2="${Y(0)}" stroke="#333"/><line x1="${L}" y1="${Y(0)}" x2="${L}" y2="${Y(1)}" stroke="#333"/>\n`;
for (const p of [0, 0.5, 1]) svg += `<text x="${L - 6}" y="${Y(p) + 4}" text-anchor="end">${p}</text>\n`;
for (let d = Math.ceil(xmin * 10) / 10; d <= xmax + 1e-9; d += 0.1) svg += `<text x="${X(d)}" y="${H - B + 16}" text-anchor="middle">${d.toFixed(1)}</text>\n`;
svg += `<text x="${(W + L) / 2}" y="${H - 6}" text-anchor="middle">trait rate in variant − base answers</text>\n`;
svg += `<text x="14" y="${(H - B) / 2}" text-anchor="middle" transform="rotate(-90 14 ${(H - B) / 2})">detection rate</text>\n`;
const pts = [];
for (const t of traits) for (const s of strengths) { const c = cell(t, s); pts.push([mean(c, "diff"), mean(c, "detected"), `${t}@${s}`]); }
pts.sort((a, b) => a[0] - b[0]);
const bins = {};
for (const [d, p] of pts) { const k = Math.floor(d * 10); (bins[k] = bins[k] || []).push(p); }
const curve = Object.keys(bins).map(Number).sort((a, b) => a - b).map((k) => [(k + 0.5) / 10, bins[k].reduce((a, p) => a + p, 0) / bins[k].length]);
svg += `<polyline fill="none" stroke="#36c" stroke-width="2" points="${curve.map(([d, p]) => `${X(d).toFixed(1)},${Y(p).toFixed(1)}`).join(" ")}"/>\n`;
for (const [d, p, name] of pts) svg += `<circle cx="${X(d).toFixed(1)}" cy="${Y(p).toFixed(1)}" r="3" fill="#c63"><title>${name}: ${d.toFixed(3)}, ${p}</title></circle>\n`;
svg += `</svg>\n`;
fs.writeFileSync(`${out}/power.svg`, svg);
process.stdout.write(md);
JS
echo "power: done in $(($(date +%s) - start)) s: $out/power.md, power.svg, runs.csv"
