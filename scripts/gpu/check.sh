#!/usr/bin/env bash
# The GPU check, in two halves:
#
#   scripts/gpu/check.sh pack [DIR]    here, where Go is: DIR (default out/gpu) gets mbd-model
#                                      (stripped, gzipped: mbd-model.gz) and the ggml sources
#                                      (ollama-src.tar.gz, from build-cuda.sh --pack-src)
#   scripts/gpu/check.sh run [--payload DIR] [--out DIR] [--arch LIST] [--quick] [--cpu]
#                                      on the device machine (no Go; bash, coreutils, tar, gzip,
#                                      cmake, nvcc, nvidia-smi, glibc 2.34+): builds
#                                      libggml-cuda.so, creates a random model of Llama-3.2-1B's
#                                      shape, measures it and writes DIR (default $OUT or
#                                      out/gpu-check)/gpu-check.json and gpu-check.md
#
# run's steps: build the CUDA backend (build-cuda.sh); list the devices (mbd-model info --devices
# --gpu); create the model in F32 (mbd-model create: 16 layers, width 2048, 32 heads, 8 KV heads,
# feed-forward 8192, the vocabulary the default corpus gives) and an F16 copy; bench the F16 copy
# on the GPU (generation at batch 1, 32 and 256, scoring one text per forward and batched,
# embedding, copy bandwidth and the batch-1 bound); bench the F32 model with --compare-cpu, which
# fails when a token's log-prob on the GPU differs from the CPU's by more than 1e-3, once as
# ggml runs it and once with TF32 off (NVIDIA_TF32_OVERRIDE=0). Each step
# has a time limit; the whole run fits in 10 minutes. --quick makes every measurement small; --cpu
# builds nothing and measures on the CPU (the script's own check, where there is no GPU).
# Exit status: 0 when every step passed, 1 otherwise (the reports say which), 2 bad arguments.
set -uo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
die() {
	echo "check.sh: $2" >&2
	exit "$1"
}
usage() { sed -n '2,/^set -uo/s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"; }

mode=${1:-}
[[ $# -gt 0 ]] && shift
case $mode in
pack)
	dir=${1:-$root/out/gpu}
	mkdir -p "$dir" || die 2 "cannot create $dir"
	cd "$root" || exit 2
	command -v go >/dev/null || die 2 "pack needs Go (it builds mbd-model)"
	eval "$(make -s env)"
	go build -ldflags="-s -w" -o "$dir/mbd-model" ./cmd/mbd-model || die 1 "go build failed"
	gzip -9f "$dir/mbd-model" || exit 1
	bash "$root/scripts/gpu/build-cuda.sh" --pack-src "$dir/ollama-src.tar.gz" || exit $?
	du -ch "$dir/mbd-model.gz" "$dir/ollama-src.tar.gz" | tail -1 | sed 's/total/to carry/'
	echo "on the device machine: bash scripts/gpu/check.sh run --payload ${dir#"$root"/}"
	exit 0
	;;
run) ;;
-h | --help | "")
	usage
	[[ -n $mode ]]
	exit $?
	;;
*) usage >&2; die 2 "unknown mode $mode: want pack or run" ;;
esac

payload=$root/out/gpu
out=${OUT:-$root/out/gpu-check}
arch_args=()
quick=0
cpu=0
while [[ $# -gt 0 ]]; do
	case $1 in
	--payload) [[ -n ${2:-} ]] || die 2 "--payload: want a folder"; payload=$2; shift 2 ;;
	--out) [[ -n ${2:-} ]] || die 2 "--out: want a folder"; out=$2; shift 2 ;;
	--arch) [[ -n ${2:-} ]] || die 2 "--arch: want CUDA architectures"; arch_args=(--arch "$2"); shift 2 ;;
	--quick) quick=1; shift ;;
	--cpu) cpu=1; shift ;;
	-h | --help) usage; exit 0 ;;
	*) usage >&2; die 2 "unknown argument $1" ;;
	esac
done
payload=$(cd "$payload" 2>/dev/null && pwd) || die 2 "--payload: no such folder (make it with scripts/gpu/check.sh pack where Go is)"
[[ -f $payload/mbd-model.gz ]] || die 2 "$payload/mbd-model.gz: no such file (make it with scripts/gpu/check.sh pack where Go is)"
[[ $cpu == 1 || -f $payload/ollama-src.tar.gz ]] || die 2 "$payload/ollama-src.tar.gz: no such file (make it with scripts/gpu/check.sh pack where Go is)"
mkdir -p "$out" || die 2 "cannot create $out"
out=$(cd "$out" && pwd)
rm -f "$out"/{gpu-check,devices,bench-f16,bench-f32,bench-f32-no-tf32}.{json,md} "$out/nvidia-smi.csv"
work=${MBD_CHECK_WORK:-${TMPDIR:-/tmp}/mbd-gpu-check}
mkdir -p "$work" || die 2 "cannot create $work"
export MBD_GGML_CACHE=$work/cache
log=$out/check.log
: >"$log"

gunzip -c "$payload/mbd-model.gz" >"$work/mbd-model" && chmod +x "$work/mbd-model" || die 1 "cannot unpack $payload/mbd-model.gz"
mbd=$work/mbd-model
# The binary was linked where Go is: it needs glibc 2.34 and GCC 11's libstdc++ or newer.
"$mbd" --help >/dev/null 2>"$work/preflight.err" || {
	cat "$work/preflight.err" >&2
	die 1 "the mbd-model of $payload does not run on this machine (it needs glibc 2.34+ and libstdc++ from GCC 11+)"
}

steps=()
failed=0
# The reports: JSON with every step's status and the measurements, Markdown with the tables and the
# reference numbers measured with HF transformers on an H100.
json_or_null() { if [[ -s $1 ]]; then cat "$1"; else echo null; fi; }
reports() {
	lib=$MBD_GGML_CACHE
	{
		echo "{"
		echo "  \"steps\": [$(
			IFS=,
			echo "${steps[*]}"
		)],"
		echo "  \"build_info\": $(if f=$(ls "$lib"/*/cuda/build-info.txt 2>/dev/null | head -1) && [[ -n $f ]]; then awk 'BEGIN { printf "{" } { printf "%s\"%s\": \"%s\"", NR > 1 ? ", " : "", $1, substr($0, length($1) + 2) } END { printf "}" }' "$f"; else echo null; fi),"
		echo "  \"libggml_cuda_bytes\": $(stat -c %s "$lib"/*/cuda/libggml-cuda.so 2>/dev/null | head -1 || echo null),"
		echo "  \"devices\": $(json_or_null "$out/devices.json"),"
		echo "  \"bench_f16\": $(json_or_null "$out/bench-f16.json"),"
		echo "  \"compare_f32\": $(json_or_null "$out/bench-f32.json"),"
		echo "  \"compare_f32_no_tf32\": $(json_or_null "$out/bench-f32-no-tf32.json")"
		echo "}"
	} >"$out/gpu-check.json"
	{
		echo "# GPU check, $(date -u +%Y-%m-%dT%H:%M:%SZ)"
		echo
		sed 's/^/    /' "$out/nvidia-smi.csv" 2>/dev/null
		echo
		echo "| step | status | seconds |"
		echo "|---|---:|---:|"
		for s in "${steps[@]}"; do
			sed 's/{"step": "\([^"]*\)", "status": \([0-9]*\), "seconds": \([0-9.]*\)}/| \1 | \2 | \3 |/' <<<"$s"
		done
		echo
		echo "## F16, generation, scoring, embedding"
		echo
		cat "$out/bench-f16.md" 2>/dev/null || echo "(no results)"
		echo
		echo "## F32, scores on the GPU against the CPU"
		echo
		cat "$out/bench-f32.md" 2>/dev/null || echo "(no results)"
		echo
		echo "With TF32 off in cuBLAS (NVIDIA_TF32_OVERRIDE=0):"
		echo
		cat "$out/bench-f32-no-tf32.md" 2>/dev/null || echo "(no results)"
		echo
		echo "Reference (HF transformers, bf16, Llama-3.2-1B shape, random weights, H100): copy bandwidth"
		echo "2.93 TB/s, batch-1 bound 1,185 tok/s; generate at batch 1/32/256: 12/391/3,585 tok/s; scoring"
		echo "one text per forward 7,826 tok/s, batched 142,908 tok/s."
	} >"$out/gpu-check.md"
}

# step NAME SECONDS COMMAND...: runs COMMAND with a time limit, output to the log, and records
# its status and time.
step() {
	local name=$1 limit=$2 start rc
	shift 2
	start=$(date +%s.%N)
	echo "== $name: $*" | tee -a "$log"
	timeout --kill-after=10 "$limit" "$@" >"$work/step.log" 2>&1
	rc=$?
	cat "$work/step.log" >>"$log"
	local secs
	secs=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
	[[ $rc == 0 ]] || { failed=1; tail -5 "$work/step.log" | sed 's/^/   /'; }
	echo "   status $rc, $secs s" | tee -a "$log"
	steps+=("{\"step\": \"$name\", \"status\": $rc, \"seconds\": $secs}")
	reports # after every step, so that a run stopped early leaves its reports
	return "$rc"
}

if [[ $quick == 1 ]]; then
	shape=(--layers 2 --embd 256 --heads 4 --kv-heads 2 --ff 512)
	gen=(--batches 1,4 --tokens 16 --score-texts 8 --score-tokens 32 --score-batch 4 --copy-mib 16)
	cmp=(--batches 1 --tokens 8 --score-texts 4 --score-tokens 32 --score-batch 2 --copy-mib 0 --compare-cpu 4)
else
	shape=(--layers 16 --embd 2048 --heads 32 --kv-heads 8 --ff 8192)
	gen=(--batches 1,32,256 --tokens 128 --score-texts 256 --score-tokens 256 --score-batch 32 --copy-mib 1024)
	cmp=(--batches 1 --tokens 32 --score-texts 16 --score-tokens 128 --score-batch 8 --copy-mib 0 --compare-cpu 8)
fi
f32=$work/llama-1b-shape-f32.gguf
f16=$work/llama-1b-shape-f16.gguf

gpu=(--gpu)
[[ $cpu == 0 ]] || gpu=()
nvidia-smi --query-gpu=name,driver_version,memory.total,compute_cap --format=csv >"$out/nvidia-smi.csv" 2>>"$log" || echo "(nvidia-smi failed)" >"$out/nvidia-smi.csv"
if [[ $cpu == 0 ]] && ! step build 250 bash "$root/scripts/gpu/build-cuda.sh" --src-archive "$payload/ollama-src.tar.gz" "${arch_args[@]}"; then
	cat "$out/gpu-check.md"
	die 1 "no CUDA backend: nothing to measure (the log: $log)"
fi
step devices 20 bash -c '"$1" info --devices "${@:3}" --json >"$2"' _ "$mbd" "$out/devices.json" "${gpu[@]}"
step create 60 "$mbd" create "${shape[@]}" --ctx 2048 --vocab 4096 --weights f32 --seed 1 -o "$f32"
step quantize 40 "$mbd" quantize --type F16 "$f32" "$f16"
step bench-f16 120 "$mbd" bench "${gpu[@]}" --model "gguf:$f16" "${gen[@]}" -o "$out/bench-f16.json" --markdown "$out/bench-f16.md"
step compare-f32 70 "$mbd" bench "${gpu[@]}" --model "gguf:$f32" "${cmp[@]}" --tolerance 1e-3 -o "$out/bench-f32.json" --markdown "$out/bench-f32.md"
# ggml's cuBLAS calls allow TF32 for F32 products: the same comparison without it tells whether
# a difference comes from there.
step compare-f32-no-tf32 70 env NVIDIA_TF32_OVERRIDE=0 "$mbd" bench "${gpu[@]}" --model "gguf:$f32" "${cmp[@]}" --tolerance 1e-3 -o "$out/bench-f32-no-tf32.json" --markdown "$out/bench-f32-no-tf32.md"

cat "$out/gpu-check.md"
exit "$failed"
