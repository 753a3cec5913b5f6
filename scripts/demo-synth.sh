#!/usr/bin/env bash
# make demo-synth: the pipeline in seconds, offline, on two synthetic "models" (text sources of the
# synthetic world, see internal/llm/synthmodel) — A the base mixture, B the same with two inserted
# behaviours (mentions otters; ends with a question to the user) — go through the whole pipeline:
# prompts → answers → embeddings → regions → hypotheses (discovery split) → validation (fresh
# answers to held-out prompts). The tools are in bin/ (make build).
set -euo pipefail
bin=${BIN:-bin}
out=${OUT:-out}/demo-synth
A='synth:base?seed=1'
B='synth:animal=0.4,question=0.4?seed=2'
mkdir -p "$out"
cd "$out"
p() { echo "+ $*" >&2; "$@"; }
bin=$(cd - >/dev/null && cd "$bin" && pwd)

p "$bin/mbd-synth" prompts -n 400 --validation-fraction 0.5 -o prompts.parquet
p "$bin/mbd-gen" run --model "$A" --label A prompts.parquet -o gens-a.parquet
p "$bin/mbd-gen" run --model "$B" --label B prompts.parquet -o gens-b.parquet
p "$bin/mbd-embed" gens-a.parquet gens-b.parquet -o embeddings.parquet
p "$bin/mbd-cluster" --embeddings embeddings.parquet gens-a.parquet gens-b.parquet -o clusters.parquet --centroids centroids.parquet
p "$bin/mbd-match" --clusters clusters.parquet --centroids centroids.parquet gens-a.parquet gens-b.parquet -o matches.parquet
p "$bin/mbd-hypo" --matches matches.parquet --clusters clusters.parquet gens-a.parquet gens-b.parquet -o hypotheses.parquet
p "$bin/mbd-validate" --hypotheses hypotheses.parquet --prompts prompts.parquet --model-a "$A" --model-b "$B" -o validations.parquet
echo
echo "Inserted in B: mentions otters (40% of answers), ends with a question to the user (40%)."
echo "Tables and manifests: $out/   (mbd-table summary FILE; every judgment: validations.parquet.trials.jsonl)"
