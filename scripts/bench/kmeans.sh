#!/usr/bin/env bash
# k-means benchmark, run by hand (not in CI):
#
#  1. our k-means (internal/cluster.KMeans: greedy k-means++ seeding, spherical Lloyd, swap
#     refinement of the winning restart) against scikit-learn's KMeans (greedy k-means++, Euclidean
#     Lloyd, BLAS-backed) on the same 100,000 x 384 random-blob unit vectors (k=50 blobs, seeded),
#     same k, n_init/restarts and max_iter, both on 2 threads: wall time of the clustering only,
#     inertia on one Euclidean measure (and on the cosine one), and the ARI between the two
#     partitions and against the planted blobs. The two methods minimise different objectives, so
#     kmeans_sklearn.py scores both partitions under both, each time with centroids recomputed
#     from the partition itself (plain means for the Euclidean sum, which is sklearn's inertia_;
#     unit means for the cosine sum, which is our Result.Inertia): the ratios compare like with
#     like. Differences from sklearn's algorithm: we draw 2+floor(ln k) seeding candidates rounded
#     up to a multiple of 4 (8 for k=50, sklearn 5) and sklearn has no refinement step;
#  2. peak memory of `mbd-cluster --mini-batch --k 50` on 1,000,000 x 384 embeddings (target < 4 GB).
#
# Installs python3-sklearn with apt-get when /usr/bin/python3 lacks it. Work files go to
# $MBD_BENCH_DIR (default out/bench/kmeans; the 1M tables take ~2 GB); they are reused when present
# (delete the folder to regenerate). Settings: N, D, K, N_INIT, MAX_ITER, SEED, BIG_N,
# SKIP_MEMORY=1 skips part 2.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$root"

N=${N:-100000}
D=${D:-384}
K=${K:-50}
N_INIT=${N_INIT:-3}
MAX_ITER=${MAX_ITER:-100}
SEED=${SEED:-1}
BIG_N=${BIG_N:-1000000}
THREADS=2
dir=${MBD_BENCH_DIR:-out/bench/kmeans}
mkdir -p "$dir"

py=/usr/bin/python3
if ! "$py" -c 'import sklearn, numpy' 2>/dev/null; then
	echo "kmeans: installing python3-sklearn" >&2
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-sklearn python3-numpy python3-threadpoolctl >/dev/null
fi
if ! [ -x /usr/bin/time ]; then
	apt-get install -y -qq time >/dev/null
fi

# --- 1. ours vs sklearn on N x D --------------------------------------------------------------------
base="$dir/blobs-n$N-d$D-k$K-s$SEED"
if ! [ -s "$base.f32" ] || ! [ -s "$base.labels" ]; then
	echo "kmeans: generating $N x $D blobs -> $base.f32" >&2
	go run scripts/bench/kmeans_blobs.go -n "$N" -d "$D" -k "$K" -seed "$SEED" -raw "$base.f32" -labels "$base.labels"
fi

echo "kmeans: ours (GOMAXPROCS=$THREADS)" >&2
go build -o "$dir/kmeans_ours" scripts/bench/kmeans_ours.go # built first so that the timed run is a plain binary
ours_json=$(GOMAXPROCS=$THREADS "$dir/kmeans_ours" -data "$base.f32" -n "$N" -d "$D" -k "$K" \
	-restarts "$N_INIT" -max-iter "$MAX_ITER" -seed "$SEED" -assign "$dir/ours.assign")

echo "kmeans: sklearn (OMP_NUM_THREADS=OPENBLAS_NUM_THREADS=$THREADS, OPENBLAS_CORETYPE/L2_SIZE unset)" >&2
env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE OMP_NUM_THREADS=$THREADS OPENBLAS_NUM_THREADS=$THREADS GOMAXPROCS=$THREADS \
	"$py" scripts/bench/kmeans_sklearn.py --data "$base.f32" --labels "$base.labels" \
	--ours "$dir/ours.assign" --ours-json "$ours_json" \
	--n "$N" --d "$D" --k "$K" --n-init "$N_INIT" --max-iter "$MAX_ITER"

[ "${SKIP_MEMORY:-0}" = 1 ] && exit 0

# --- 2. mbd-cluster memory on BIG_N x D ---------------------------------------------------------------
make build >/dev/null
big="$dir/big-n$BIG_N-d$D-k$K-s$SEED"
if ! [ -s "$big.emb.parquet" ] || ! [ -s "$big.gens.parquet" ]; then
	echo "kmeans: generating $BIG_N x $D embeddings + generations tables -> $big.*.parquet" >&2
	go run scripts/bench/kmeans_blobs.go -n "$BIG_N" -d "$D" -k "$K" -seed "$SEED" -emb "$big.emb.parquet" -gens "$big.gens.parquet"
fi
echo "kmeans: bin/mbd-cluster --mini-batch --k $K on $BIG_N x $D" >&2
rm -f "$dir/time.txt"
status=0
/usr/bin/time -v -o "$dir/time.txt" bin/mbd-cluster --mini-batch --k "$K" --embeddings "$big.emb.parquet" "$big.gens.parquet" \
	-o "$dir/big.clusters.parquet" --centroids "$dir/big.centroids.parquet" 2>"$dir/mbd-cluster.log" || status=$?
rss_kb=$(sed -n 's/^[[:space:]]*Maximum resident set size (kbytes): //p' "$dir/time.txt")
wall=$(sed -n 's/^[[:space:]]*Elapsed (wall clock) time (h:mm:ss or m:ss): //p' "$dir/time.txt")
echo "== mbd-cluster --mini-batch --k $K, $BIG_N x $D (exit $status)"
echo "peak RSS: $rss_kb kB = $(awk -v k="$rss_kb" 'BEGIN{printf "%.2f GiB", k/1048576}')  (target < 4 GB)"
echo "wall: $wall"
if [ "$status" != 0 ]; then
	tail -5 "$dir/mbd-cluster.log" >&2
	exit "$status"
fi
