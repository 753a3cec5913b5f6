#!/usr/bin/env bash
# Trainer benchmark, run by hand (not in CI), measurement only: mbd-finetune (internal/train, GoMLX's
# pure-Go backend) against PyTorch on the CPU (Debian's python3-torch, installed with apt-get when
# missing; scripts/bench/trainer.py) training the same architecture — the model suite's base: a
# llama of LAYERS blocks (4), width 64, 4 heads, 2 key/value heads, feed-forward 192, a 1024-token
# vocabulary, ~328 K parameters, F32 — with the same batch (8) and sequence length (256), AdamW and
# gradient clipping, for STEPS steps. Both use every CPU (THREADS, default nproc). mbd trains on one
# document of the synthetic world's corpus (no padding: every window is full), PyTorch on random
# tokens; both count batch x sequence-length tokens per step from before the first step. Rounds
# alternate which runs first; the table gives medians over ROUNDS rounds and the ratio.
#
# Settings (environment): STEPS (30), ROUNDS (3), THREADS (nproc), LAYERS (4), MBD_BENCH_DIR
# (out/bench/trainer).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$root"
eval "$(make -s env)"

STEPS=${STEPS:-30}
ROUNDS=${ROUNDS:-3}
THREADS=${THREADS:-$(nproc)}
LAYERS=${LAYERS:-4}
dir=${MBD_BENCH_DIR:-out/bench/trainer}
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)

py=/usr/bin/python3
if ! "$py" -c 'import torch' 2>/dev/null; then
	echo "trainer: installing python3-torch" >&2
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-torch >/dev/null
fi

echo "trainer: building" >&2
go build -o "$dir/" ./cmd/mbd-model ./cmd/mbd-finetune ./cmd/mbd-synth
init=$dir/init-$LAYERS.gguf
if ! [ -s "$init" ]; then
	"$dir/mbd-synth" corpus --seed 1 --bytes 300000 -o "$dir/corpus.txt" --log-level warn
	"$dir/mbd-model" create --corpus "$dir/corpus.txt" --vocab 1024 --layers "$LAYERS" --weights f32 --ctx 512 --seed 1 \
		-o "$init" 2>"$dir/create-$LAYERS.log"
	grep -v '^[[:space:]]*$' "$dir/corpus.txt" >"$dir/train.txt" # one document
fi
vocab=$(sed -n 's/.*created model.* vocab=\([0-9]*\).*/\1/p' "$dir/create-$LAYERS.log")

echo "trainer: load before: $(cut -d' ' -f1-3 /proc/loadavg), $(nproc) CPUs, $THREADS threads" >&2
: >"$dir/results.tsv"
mbd() {
	GOMAXPROCS=$THREADS "$dir/mbd-finetune" --base "$init" --steps "$STEPS" --lr 3e-3 --batch 8 --ctx 256 \
		--seed 1 --f32 "$dir/train.txt" -o "$dir/out.gguf" --log-level warn
	python3 -c 'import json, sys; print("mbd\t%.1f" % json.load(open(sys.argv[1]))["params"]["tokens_per_second"])' "$dir/out.gguf.json" >>"$dir/results.tsv"
}
torch() {
	"$py" scripts/bench/trainer.py --vocab "$vocab" --embd 64 --layers "$LAYERS" --heads 4 --kv-heads 2 --ff 192 \
		--batch 8 --ctx 256 --steps "$STEPS" --threads "$THREADS" | sed -n 's/.*tokens_per_second=\([0-9.]*\).*/torch\t\1/p' >>"$dir/results.tsv"
}
for r in $(seq 1 "$ROUNDS"); do
	if [ $((r % 2)) = 1 ]; then mbd; torch; else torch; mbd; fi
	echo "trainer: round $r of $ROUNDS done, load $(cut -d' ' -f1 /proc/loadavg)" >&2
done
echo "trainer: load after: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
python3 - "$dir/results.tsv" <<'PY'
import collections, statistics, sys
r = collections.defaultdict(list)
for line in open(sys.argv[1]):
    name, v = line.split("\t")
    r[name].append(float(v))
m = {k: statistics.median(v) for k, v in r.items()}
print(f"training tokens/s, medians of {len(r['mbd'])} runs: mbd={m['mbd']:.0f} pytorch={m['torch']:.0f} mbd/pytorch={m['mbd'] / m['torch']:.2f}")
PY
