#!/usr/bin/env bash
# Remakes testdata/, the small files the README's examples use (run from anywhere, after make build):
#
#   answers-a.csv, answers-b.csv  two models' recorded answers (columns prompt, completion), two
#                                 samples each for 120 prompts: the synthetic world's base model (A)
#                                 and a variant that mentions otters (strength 0.6) and answers in
#                                 bullet lists (strength 0.3) (B)
#   prompts.jsonl                 the 120 prompts ({"text": ...} per line)
#   run/                          a finished run: make diff on the two CSV files
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${BIN:-bin}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$bin/mbd-synth" prompts --seed 21 -n 120 -o "$tmp/p.parquet"
"$bin/mbd-gen" run --model synth:base --label A --samples 2 --seed 1 "$tmp/p.parquet" -o "$tmp/a.parquet"
"$bin/mbd-gen" run --model 'synth:animal=0.6,bullets=0.3' --label B --samples 2 --seed 2 "$tmp/p.parquet" -o "$tmp/b.parquet"
mkdir -p testdata
"$bin/mbd-table" cat --format csv --columns prompt,completion "$tmp/a.parquet" >testdata/answers-a.csv
"$bin/mbd-table" cat --format csv --columns prompt,completion "$tmp/b.parquet" >testdata/answers-b.csv
"$bin/mbd-table" cat --format jsonl --columns text "$tmp/p.parquet" >testdata/prompts.jsonl
rm -rf testdata/run
make -s diff BIN="$bin" A=recorded:testdata/answers-a.csv B=recorded:testdata/answers-b.csv RUN=testdata/run \
	TITLE="recorded answers: base vs otters + bullet lists" TRUTH="mentions otters (0.6); answers in bullet lists (0.3)"
# The report is remade by mbd-report; the stamps belong to the run that made the folder.
rm -rf testdata/run/report.* testdata/run/.flags
ls -l testdata testdata/run
