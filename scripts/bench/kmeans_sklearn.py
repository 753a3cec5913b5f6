#!/usr/bin/python3
"""sklearn side of scripts/bench/kmeans.sh, and the comparison.

Fits sklearn.cluster.KMeans (k-means++, Lloyd) on the raw float32 points written by kmeans_blobs.go,
times fit() alone, and compares its partition with ours (the int32 assignment written by
kmeans_ours.go, whose JSON line is passed with --ours-json).

What is compared. sklearn minimises Euclidean inertia, sum ||x - mean_c||^2 with mean_c the plain
mean of cluster c. Ours is spherical k-means: it minimises sum (1 - cos(x, unit(mean_c))). The two
objectives differ (per cluster of n_c unit vectors with mean m: Euclidean n_c (1 - |m|^2), cosine
n_c (1 - |m|)), so every partition is scored here under both, with centroids recomputed from the
partition itself:
  euclidean(P) = sum_c sum_{x in c} ||x - mean_c||^2          (sklearn's inertia_ measure)
  cosine(P)    = sum_c sum_{x in c} (1 - x . mean_c/|mean_c|)  (our Result.Inertia measure)
"inertia ratio" is euclidean(ours) / euclidean(sklearn).
"""

import argparse
import json
import os
import sys
import time

import numpy as np
from sklearn.cluster import KMeans
from sklearn.metrics import adjusted_rand_score


def scores(x, labels, k):
    """euclidean(P), cosine(P) for partition labels of x (float64 arithmetic)."""
    d = x.shape[1]
    sums = np.zeros((k, d))
    np.add.at(sums, labels, x)  # float32 x promoted to float64
    counts = np.bincount(labels, minlength=k).astype(np.float64)
    nz = counts > 0
    means = np.zeros_like(sums)
    means[nz] = sums[nz] / counts[nz, None]
    norms = np.linalg.norm(means, axis=1)
    units = np.zeros_like(means)
    units[nz] = means[nz] / norms[nz, None]
    eu = 0.0
    co = 0.0
    for lo in range(0, x.shape[0], 8192):
        xb = x[lo:lo + 8192].astype(np.float64)
        lb = labels[lo:lo + 8192]
        eu += float(((xb - means[lb]) ** 2).sum())
        co += float((1.0 - (xb * units[lb]).sum(axis=1)).sum())
    return eu, co, int((~nz).sum())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    ap.add_argument("--labels", required=True, help="planted labels, int32 LE")
    ap.add_argument("--ours", required=True, help="our assignment, int32 LE")
    ap.add_argument("--ours-json", required=True, help="kmeans_ours.go's JSON line")
    ap.add_argument("--n", type=int, default=100000)
    ap.add_argument("--d", type=int, default=384)
    ap.add_argument("--k", type=int, default=50)
    ap.add_argument("--n-init", type=int, default=3)
    ap.add_argument("--max-iter", type=int, default=100)
    a = ap.parse_args()

    x = np.fromfile(a.data, dtype="<f4").reshape(a.n, a.d)
    planted = np.fromfile(a.labels, dtype="<i4").astype(np.int64)
    ours = np.fromfile(a.ours, dtype="<i4").astype(np.int64)
    ours_info = json.loads(a.ours_json)

    km = KMeans(n_clusters=a.k, init="k-means++", n_init=a.n_init, max_iter=a.max_iter,
                algorithm="lloyd", random_state=0)
    t0 = time.perf_counter()
    km.fit(x)
    sk_secs = time.perf_counter() - t0
    sk = km.labels_.astype(np.int64)

    try:
        from threadpoolctl import threadpool_info
        pools = ["%s/%s %s threads=%s%s" % (p.get("user_api"), p.get("internal_api"), p.get("version"),
                                            p.get("num_threads"),
                                            " arch=" + str(p["architecture"]) if p.get("architecture") else "")
                 for p in threadpool_info()]
    except ImportError:
        pools = ["threadpoolctl not available"]

    eu_o, co_o, empty_o = scores(x, ours, a.k)
    eu_s, co_s, empty_s = scores(x, sk, a.k)
    eu_p, co_p, _ = scores(x, planted, a.k)

    import sklearn
    env = {v: os.environ.get(v, "(unset)") for v in
           ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "GOMAXPROCS")}
    p = print
    p("== k-means, %d x %d float32 unit vectors, k=%d, n_init/restarts=%d, max_iter=%d" % (a.n, a.d, a.k, a.n_init, a.max_iter))
    p("sklearn %s, numpy %s; env %s" % (sklearn.__version__, np.__version__, " ".join("%s=%s" % kv for kv in env.items())))
    for line in pools:
        p("threadpool: " + line)
    p("ours:    %.3f s  (spherical Lloyd, GOMAXPROCS=%s, winning restart %d iterations, tol: ours default)"
      % (ours_info["seconds"], ours_info["gomaxprocs"], ours_info["iterations"]))
    p("sklearn: %.3f s  (Euclidean Lloyd, best run %d iterations, tol=1e-4 default)" % (sk_secs, km.n_iter_))
    p("time ratio ours/sklearn: %.2f" % (ours_info["seconds"] / sk_secs))
    p("inertia, Euclidean sum ||x - mean_c||^2 with means recomputed from each partition:")
    p("  ours %.3f   sklearn %.3f (sklearn's own inertia_ %.3f)   planted %.3f" % (eu_o, eu_s, km.inertia_, eu_p))
    p("  ratio ours/sklearn: %.6f" % (eu_o / eu_s))
    p("inertia, cosine sum (1 - cos(x, unit mean_c)) with means recomputed from each partition:")
    p("  ours %.3f (our own Result.Inertia %.3f)   sklearn %.3f   planted %.3f" % (co_o, ours_info["cosine_inertia"], co_s, co_p))
    p("  ratio ours/sklearn: %.6f" % (co_o / co_s))
    if empty_o or empty_s:
        p("empty clusters: ours %d, sklearn %d" % (empty_o, empty_s))
    p("ARI ours vs sklearn: %.4f" % adjusted_rand_score(ours, sk))
    p("ARI ours vs planted: %.4f" % adjusted_rand_score(planted, ours))
    p("ARI sklearn vs planted: %.4f" % adjusted_rand_score(planted, sk))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
