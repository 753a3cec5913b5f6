#!/usr/bin/env bash
# llama.cpp reference benchmark, run by hand (not in CI): mbd against a small C program of our own
# (scripts/bench/llamac/bench.c) that calls llama.cpp's C API directly and is linked against the same
# vendored llama.cpp, compiled with the same flags (`make -s env`). On one model (created once: 8
# layers of width 512, F16, 27.5 M parameters, the model of internal/llm/llamacpp's benchmarks):
#
#   generation, at batch (parallel) 1, 8 and 32 and threads 1 and 2: 32 completions of 8 prompts, up
#   to 64 new tokens each, temperature 0.8:
#     c-fast    the C program with llama.cpp's defaults (flash attention, F16 KV cache)
#     c-exact   the C program with F32 attention and KV cache (mbd's scoring settings)
#     go        mbd's Go path, llamacpp.Generate (scripts/bench/llama_bench_go.go), default settings
#     go-exact  the same with exact=1
#     gen-run   the command, mbd-gen run (Parquet table, journal, manifest), default settings
#   scoring, at parallel 8 and threads 1 and 2: teacher-forced log-probs of 64 completions of 75
#   words given prompts of 12 words, cut from the tiny models' corpus:
#     c-exact   the C program, F32 settings
#     go        llamacpp.Score (scripts/bench/llama_bench_go.go)
#     score     the command, mbd-model score
#
# Each measurement is one process, timed from start to exit (model loading included: ~0.1 s of
# several seconds), as tokens per second of wall time; rounds alternate the programs' order and the
# table gives medians over ROUNDS rounds and the ratios of the medians. The machine's load average is
# printed before and after: on a busy machine compare ratios, not rates.
#
# Settings (environment): ROUNDS (3), BATCHES ("1 8 32"), THREADS ("1 2"), MAX_TOKENS (64),
# MBD_BENCH_DIR (out/bench/llama: model, inputs, binaries and the raw results, results.tsv).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$root"
eval "$(make -s env)"

ROUNDS=${ROUNDS:-3}
BATCHES=${BATCHES:-1 8 32}
THREADS=${THREADS:-1 2}
MAX_TOKENS=${MAX_TOKENS:-64}
CTX=256
dir=${MBD_BENCH_DIR:-out/bench/llama}
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)

echo "llama: building" >&2
go build -o "$dir/llamac" ./scripts/bench/llamac
go build -o "$dir/llama-go" scripts/bench/llama_bench_go.go
go build -o "$dir/" ./cmd/mbd-gen ./cmd/mbd-model ./cmd/mbd-prompts

model=$dir/bench.gguf
if ! [ -s "$model" ]; then
	"$dir/mbd-model" create --vocab 2048 --embd 512 --layers 8 --heads 8 --kv-heads 8 --ff 1408 \
		--weights f16 --seed 1 -o "$model" --log-level warn 2>/dev/null
fi

# Inputs: the 8 prompts of the Go benchmarks, 4 times over for the C and Go programs (seeds 0-31),
# once with --samples 4 for mbd-gen run.
stems=('The weather today is' 'Once upon a time' 'To make bread, you' 'The capital of'
	'Q: Which month comes after May?\nA:' 'The sea turtle is a' 'Kofi was a cheerful' 'Every weekend, she would')
: >"$dir/prompts.txt"
: >"$dir/prompts.jsonl"
for _ in 1 2 3 4; do printf '%s\n' "${stems[@]}" >>"$dir/prompts.txt"; done
for s in "${stems[@]}"; do printf '{"text": "%s"}\n' "$s" >>"$dir/prompts.jsonl"; done
"$dir/mbd-prompts" "$dir/prompts.jsonl" -o "$dir/prompts.parquet" --log-level warn
# Scoring input: 64 prompts of 12 words and completions of 75 words from the tiny models' corpus.
"$dir/llama-go" inputs "$dir"

# run NAME KIND BATCH THREADS: one measurement, appended to results.tsv as
# kind batch threads name tokens seconds.
now() { date +%s.%N; }
run() {
	local name=$1 kind=$2 b=$3 t=$4 out tokens start end
	local ref="gguf:$model?threads=$t&parallel=$b&ctx=$CTX"
	start=$(now)
	case $name in
	c-fast | c-exact) out=$("$dir/llamac" "$kind" "$model" "$dir/$([ "$kind" = gen ] && echo prompts || echo score).txt" "$b" "$t" "${name#c-}" "$MAX_TOKENS" "$CTX") ;;
	go | go-exact)
		local attn=fast
		[ "$name" = go-exact ] && attn=exact
		out=$("$dir/llama-go" "$kind" "$model" "$dir/$([ "$kind" = gen ] && echo prompts || echo score).txt" "$b" "$t" "$attn" "$MAX_TOKENS" "$CTX")
		;;
	gen-run)
		rm -f "$dir/gen-out.parquet" "$dir/gen-out.parquet.journal"
		out=$("$dir/mbd-gen" run --model "$ref" --label A --samples 4 --temperature 0.8 --max-tokens "$MAX_TOKENS" \
			"$dir/prompts.parquet" -o "$dir/gen-out.parquet" 2>&1 | sed -n 's/.*msg="generation done" tokens=\([0-9]*\).*/tokens=\1/p')
		;;
	score)
		"$dir/mbd-model" score --model "$ref" "$dir/score.parquet" -o "$dir/score-out.parquet" --log-level warn
		out=$(cat "$dir/score-tokens")
		;;
	esac
	end=$(now)
	tokens=$(sed -n 's/.*tokens=\([0-9]*\).*/\1/p' <<<"$out")
	if [ -z "$tokens" ]; then
		echo "llama: $name $kind b=$b t=$t gave no token count" >&2
		exit 1
	fi
	# mbd-model score's tokens are the Go path's: the same Score on the same input.
	[ "$name" = go ] && [ "$kind" = score ] && echo "tokens=$tokens" >"$dir/score-tokens"
	printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$kind" "$b" "$t" "$name" "$tokens" "$(awk "BEGIN{print $end - $start}")" >>"$dir/results.tsv"
}

echo "llama: load before: $(cut -d' ' -f1-3 /proc/loadavg), $(nproc) CPUs" >&2
: >"$dir/results.tsv"
gen_names=(c-fast go gen-run c-exact go-exact)
score_names=(go c-exact score)
for r in $(seq 1 "$ROUNDS"); do
	for t in $THREADS; do
		for b in $BATCHES; do
			# Rotate the order each round.
			for i in "${!gen_names[@]}"; do
				run "${gen_names[$(((i + r) % ${#gen_names[@]}))]}" gen "$b" "$t"
			done
		done
		# The Go path runs first in round 1: it records the token count mbd-model score reuses.
		for i in "${!score_names[@]}"; do
			run "${score_names[$(((i + r - 1) % ${#score_names[@]}))]}" score 8 "$t"
		done
	done
	echo "llama: round $r of $ROUNDS done, load $(cut -d' ' -f1 /proc/loadavg)" >&2
done
echo "llama: load after: $(cut -d' ' -f1-3 /proc/loadavg)" >&2

python3 - "$dir/results.tsv" <<'EOF'
import collections, statistics, sys
rates = collections.defaultdict(list)
for line in open(sys.argv[1]):
    kind, b, t, name, tokens, secs = line.split("\t")
    rates[(kind, int(b), int(t), name)].append(int(tokens) / float(secs))
med = {k: statistics.median(v) for k, v in rates.items()}
def row(kind, b, t, names, ratios):
    have = [n for n in names if (kind, b, t, n) in med]
    if not have:
        return
    cells = " ".join(f"{n}={med[(kind, b, t, n)]:.0f}" for n in have)
    rs = " ".join(f"{a}/{c}={med[(kind, b, t, a)] / med[(kind, b, t, c)]:.2f}"
                  for a, c in ratios if (kind, b, t, a) in med and (kind, b, t, c) in med)
    print(f"{kind:5} b={b:<2} t={t}  tok/s: {cells}\n{'':15}ratios: {rs}")
keys = sorted({(k[0], k[1], k[2]) for k in med}, key=lambda k: (k[0] != "gen", k[2], k[1]))
print(f"medians of {max(len(v) for v in rates.values())} runs (tokens / wall seconds per process)")
for kind, b, t in keys:
    if kind == "gen":
        row(kind, b, t, ["c-fast", "go", "gen-run", "c-exact", "go-exact"],
            [("go", "c-fast"), ("gen-run", "c-fast"), ("gen-run", "go"), ("go-exact", "c-exact"), ("c-fast", "c-exact")])
    else:
        row(kind, b, t, ["c-exact", "go", "score"], [("go", "c-exact"), ("score", "c-exact")])
EOF
