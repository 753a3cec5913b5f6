// Package cluster groups L2-normalised text embeddings into behaviour regions.
//
// All geometry is cosine geometry on unit vectors: the similarity of two
// points is their dot product and their distance is 1 − cos. On the unit
// sphere ‖x − y‖² = 2(1 − cos(x, y)), so Euclidean methods carry over with the
// factor 2 absorbed.
//
// # k-means (KMeans)
//
// Spherical k-means (Dhillon & Modha, "Concept decompositions for large
// sparse text data using clustering", Machine Learning 42, 2001): points are
// assigned to the centroid with the largest dot product and each centroid is
// the renormalised mean of its points, which is the unit vector maximising
// the summed cosine to them. Each restart is seeded with k-means++ (Arthur &
// Vassilvitskii, "k-means++: the advantages of careful seeding", SODA 2007):
// the first centre is uniform; for every further centre, 2+⌊ln k⌋ candidates
// (rounded up to a multiple of 4, the kernel's width) are drawn with
// probability proportional to D(x)² = 2(1 − max cos) to the centres chosen so
// far, and the one that lowers the potential most is kept ("greedy
// k-means++", as scikit-learn does). Lloyd iterations stop when no assignment changes, when the relative
// drop in inertia (Σ 1 − cos to the own centroid) is at most Tol, or after
// MaxIter steps. A centroid left without points is re-seeded with the point
// farthest from its own centroid (lowest index on ties). The restart with the
// lowest inertia wins, and is then refined by swaps (full k-means only): the
// centroid that costs least to drop is removed, the cluster that gains most
// from a 2-way split is split, and Lloyd runs again; a swap is kept only if
// inertia drops, for at most k swaps or MaxIter Lloyd steps in all.
//
// Dot products run in an AVX2+FMA assembly kernel (3 points × 4 centroids per
// step) when the CPU has it, and in Go otherwise (build tag purego forces Go);
// the two differ only in rounding, so results are deterministic per seed on
// one kind of machine but may differ between an AVX2 machine and another.
//
// The mini-batch mode follows Sculley, "Web-scale k-means clustering", WWW
// 2010: each step draws a batch of points uniformly, assigns them with the
// current centroids, and moves every touched centre towards its points with
// per-centre learning rate 1/count (so a centre is the running mean of the
// points it has seen); the centroid used for assignment is that mean
// renormalised. It stops after MaxIter batches or when an exponentially
// smoothed batch inertia has not improved by more than Tol for 10 batches,
// and ends with one full assignment pass.
//
// The assignment step (and the k-means++ distance update) run on goroutines
// over fixed-size chunks of points. Every chunk writes only its own slots and
// per-chunk partial sums are reduced in chunk order, so results are
// bit-for-bit identical for every worker count and GOMAXPROCS. Random numbers
// come from math/rand/v2's PCG seeded by Options.Seed and the restart index.
//
// # Choosing k (ChooseK)
//
// ChooseK clusters for every k in a range and scores each clustering by its
// mean silhouette (Rousseeuw, "Silhouettes: a graphical aid to the
// interpretation and validation of cluster analysis", J. Comput. Appl. Math.
// 20, 1987) under cosine distance, computed on one seeded sample of at most
// N points shared by all k. The k with the highest mean silhouette wins;
// ties go to the smaller k.
//
// # k-NN graph + Louvain (Louvain)
//
// For cluster shapes k-means handles badly (non-convex, very unequal sizes)
// Louvain builds a symmetrised k-nearest-neighbour graph under cosine
// similarity (edge i–j when j is among i's k neighbours or vice versa, weight
// = similarity, non-positive similarities dropped) and partitions it by
// modularity with the Louvain method (Blondel, Guillaume, Lambiotte &
// Lefebvre, "Fast unfolding of communities in large networks", J. Stat.
// Mech. 2008), using gonum's graph/community.Modularize with a seeded
// source; the graph type iterates in a fixed order so the result is
// deterministic for a seed.
//
// # PCA (FitPCA)
//
// FitPCA takes the thin SVD of the centred data (gonum mat.SVD); the first
// two right singular vectors are the principal axes. Each axis' sign is fixed
// so that its largest-magnitude coordinate is positive, which makes the 2-D
// layout deterministic. Texts and centroids are projected with the same mean
// and axes.
//
// AdjustedRand compares two labellings (Hubert & Arabie, "Comparing
// partitions", J. Classification 2, 1985).
package cluster
