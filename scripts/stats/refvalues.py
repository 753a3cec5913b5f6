#!/usr/bin/env python3
"""Generate reference values for internal/stats tests.

Usage (needs numpy + scipy; Debian: apt-get install python3-scipy):

    /usr/bin/python3 scripts/stats/refvalues.py > internal/stats/testdata/reference.json

Everything that scipy implements is taken from scipy; the rest (BH q-values,
Holm, Cohen's h, Newcombe CI, DeLong AUC CI, exact permutation p-values) is
computed by hand here with the textbook formula, independently of the Go code
(e.g. DeLong via the full n1 x n2 kernel matrix rather than via ranks).
"""
import itertools
import json
import math
import sys

import numpy as np
import scipy
from scipy import stats

OUT = {
    "generator": "scripts/stats/refvalues.py",
    "scipy_version": scipy.__version__,
    "numpy_version": np.__version__,
}

rng = np.random.default_rng(20240611)


def f(x):
    """JSON float: NaN encoded as null."""
    x = float(x)
    return None if math.isnan(x) else x


# ---------------------------------------------------------------- 1. BH / Holm
def bh(ps):
    """Benjamini-Hochberg q-values; same algorithm as
    scipy.stats.false_discovery_control(method='bh') (scipy >= 1.11) and
    R p.adjust(method='BH'). NaNs are dropped and m counts non-NaN only
    (R p.adjust semantics)."""
    ps = np.asarray(ps, dtype=float)
    out = np.full_like(ps, np.nan)
    ok = ~np.isnan(ps)
    p = ps[ok]
    m = p.size
    if m == 0:
        return out
    order = np.argsort(p, kind="stable")
    s = p[order] * m / np.arange(1, m + 1)
    s = np.minimum.accumulate(s[::-1])[::-1]
    q = np.empty(m)
    q[order] = np.clip(s, 0, 1)
    out[ok] = q
    return out


def holm(ps):
    """Holm step-down adjusted p-values (statsmodels multipletests 'holm',
    R p.adjust 'holm')."""
    ps = np.asarray(ps, dtype=float)
    out = np.full_like(ps, np.nan)
    ok = ~np.isnan(ps)
    p = ps[ok]
    m = p.size
    if m == 0:
        return out
    order = np.argsort(p, kind="stable")
    s = p[order] * np.arange(m, 0, -1)
    s = np.minimum(np.maximum.accumulate(s), 1)
    q = np.empty(m)
    q[order] = s
    out[ok] = q
    return out


def bonf(ps):
    ps = np.asarray(ps, dtype=float)
    m = np.sum(~np.isnan(ps))
    return np.minimum(ps * m, 1)


pvecs = [
    [0.01, 0.04, 0.03, 0.005, 0.2],
    [0.5],
    [0.0, 1.0, 0.5, 0.5, 0.5, 1e-30, 1e-300],
    [0.02, 0.02, 0.02, 0.02, 0.9, 0.01],
    [1.0, 1.0, 1.0],
    [0.04, float("nan"), 0.01, 0.03, float("nan")],
    [1e-30, 2e-30, 3e-10, 0.049, 0.051],
    list(rng.uniform(size=40) ** 3),
    list(np.round(rng.uniform(size=60), 2)),  # many ties
]
OUT["multiple"] = [
    {"p": [f(x) for x in v], "bh": [f(x) for x in bh(v)],
     "holm": [f(x) for x in holm(v)], "bonferroni": [f(x) for x in bonf(v)]}
    for v in pvecs
]

# ------------------------------------------------ 2. two-proportion tests
tables = [
    [[6, 2], [1, 4]],
    [[8, 2], [1, 5]],
    [[1, 9], [11, 3]],
    [[3, 1], [1, 3]],
    [[10, 10], [10, 10]],
    [[0, 5], [5, 0]],
    [[5, 0], [0, 5]],
    [[1, 0], [0, 1]],
    [[2, 7], [8, 2]],
    [[20, 480], [35, 465]],
    [[120, 380], [150, 350]],
    [[100, 0], [0, 100]],
    [[500, 0], [0, 500]],
    [[1000, 9000], [1150, 8850]],
    [[12, 5], [29, 2]],
    [[7, 0], [3, 10]],
    [[0, 50], [10, 40]],
    [[3, 97], [0, 100]],
    [[2, 3], [3, 2]],
    [[40, 60], [60, 40]],
    [[5000, 45000], [5300, 44700]],
    [[1, 1], [1, 1]],
]
props = []
for t in tables:
    (a, b), (c, d) = t
    rec = {"table": t}
    rec["fisher_p"] = f(stats.fisher_exact(t).pvalue)
    ok = (a + c) > 0 and (b + d) > 0
    if ok:
        s0, p0, _, _ = stats.chi2_contingency(t, correction=False)
        s1, p1, _, _ = stats.chi2_contingency(t, correction=True)
        rec.update(chi2=f(s0), chi2_p=f(p0), chi2_yates=f(s1), chi2_yates_p=f(p1))
    n1, n2 = a + b, c + d
    p1_, p2_ = a / n1, c / n2
    rec["cohen_h"] = f(2 * math.asin(math.sqrt(p1_)) - 2 * math.asin(math.sqrt(p2_)))
    z = stats.norm.ppf(0.975)

    def wilson(k, n):
        ci = stats.binomtest(k, n).proportion_ci(0.95, method="wilson")
        return ci.low, ci.high

    l1, u1 = wilson(a, n1)
    l2, u2 = wilson(c, n2)
    dd = p1_ - p2_
    rec["diff"] = f(dd)
    rec["newcombe_lo"] = f(dd - math.sqrt((p1_ - l1) ** 2 + (u2 - p2_) ** 2))
    rec["newcombe_hi"] = f(dd + math.sqrt((u1 - p1_) ** 2 + (p2_ - l2) ** 2))
    props.append(rec)
OUT["two_proportion"] = props

# ------------------------------------------------ 3. binomial test
bcases = [
    (3, 10, 0.5), (0, 10, 0.5), (10, 10, 0.5), (5, 10, 0.5), (7, 20, 0.3),
    (1, 100, 0.01), (0, 100, 0.01), (9, 100, 0.02), (682, 925, 0.75),
    (50, 100, 0.5), (60, 100, 0.5), (4800, 10000, 0.5), (5200, 10000, 0.5),
    (0, 200, 0.5), (200, 200, 0.5), (1, 1, 0.5), (2, 30, 0.2),
    (13, 1000, 0.001), (999, 1000, 0.9), (37, 40, 0.6), (0, 1, 0.3),
]
OUT["binomial"] = []
for k, n, p in bcases:
    r = stats.binomtest(k, n, p)
    cp = r.proportion_ci(0.95, method="exact")
    w = r.proportion_ci(0.95, method="wilson")
    cp90 = r.proportion_ci(0.90, method="exact")
    OUT["binomial"].append({
        "k": k, "n": n, "p": p, "pvalue": f(r.pvalue),
        "cp_lo": f(cp.low), "cp_hi": f(cp.high),
        "cp90_lo": f(cp90.low), "cp90_hi": f(cp90.high),
        "wilson_lo": f(w.low), "wilson_hi": f(w.high),
    })

# ------------------------------------------------ 4. Mann-Whitney, AUC
def delong(x, y):
    x = np.asarray(x, float)
    y = np.asarray(y, float)
    psi = (x[:, None] > y[None, :]) + 0.5 * (x[:, None] == y[None, :])
    auc = psi.mean()
    v10 = psi.mean(axis=1)
    v01 = psi.mean(axis=0)
    var = np.var(v10, ddof=1) / len(x) + np.var(v01, ddof=1) / len(y)
    se = math.sqrt(var)
    z = stats.norm.ppf(0.975)
    return auc, se, max(0.0, auc - z * se), min(1.0, auc + z * se)


mw_inputs = [
    ("exact_small", [1.1, 2.2, 3.3, 4.4], [5.5, 6.6, 7.7]),
    ("exact_overlap", [0.8, 3.1, 4.7, 2.0, 9.1], [1.5, 2.7, 6.2, 5.0, 7.3, 8.8]),
    ("exact_8x8", list(rng.normal(size=8)), list(rng.normal(0.8, 1, size=8))),
    ("exact_3x40", list(rng.normal(size=3)), list(rng.normal(1.5, 1, size=40))),
    ("exact_1x5", [2.5], [1.0, 2.0, 3.0, 4.0, 5.0]),
    ("exact_separated_12x10", list(np.arange(12) + 100.5), list(np.arange(10) * 1.0)),
    ("ties_small", [1, 2, 2, 3, 3, 3], [2, 3, 4, 4, 5]),
    ("ties_int", list(rng.integers(0, 5, size=30)), list(rng.integers(1, 6, size=25))),
    ("cont_50x60", list(rng.normal(size=50)), list(rng.normal(0.3, 1, size=60))),
    ("large_sep", list(rng.normal(size=300)), list(rng.normal(2.5, 1, size=300))),
    ("all_tied_but_one", [1, 1, 1, 1, 2], [1, 1, 1, 1, 1, 1]),
    ("equal_groups", [1, 2, 3, 4, 5, 6, 7, 8, 9, 10], [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]),
]
OUT["mannwhitney"] = []
for name, x, y in mw_inputs:
    x = [float(v) for v in x]
    y = [float(v) for v in y]
    rec = {"name": name, "x": x, "y": y}
    ra = stats.mannwhitneyu(x, y, method="asymptotic", use_continuity=True)
    rec["u"] = f(ra.statistic)
    rec["p_asymptotic"] = f(ra.pvalue)
    ties = len(set(x + y)) < len(x) + len(y)
    if not ties:
        re = stats.mannwhitneyu(x, y, method="exact")
        rec["p_exact"] = f(re.pvalue)
    rec["p_auto"] = f(stats.mannwhitneyu(x, y, method="auto").pvalue)
    if len(x) >= 2 and len(y) >= 2:
        auc, se, lo, hi = delong(x, y)
        rec.update(auc=f(auc), auc_se=f(se), auc_lo=f(lo), auc_hi=f(hi))
    OUT["mannwhitney"].append(rec)


# exact permutation test of the difference in means (two-sided, |T| >= |T_obs|)
def perm_exact(x, y):
    z = np.array(x + y, float)
    n1 = len(x)
    N = len(z)
    tot = z.sum()
    tobs = np.mean(x) - np.mean(y)
    scale = max(abs(tobs), np.mean(np.abs(z)))
    tol = 1e-9 * scale
    cnt = 0
    total = 0
    for idx in itertools.combinations(range(N), n1):
        sx = z[list(idx)].sum()
        t = sx / n1 - (tot - sx) / (N - n1)
        if abs(t) >= abs(tobs) - tol:
            cnt += 1
        total += 1
    return tobs, cnt / total, total


perm_cases = [
    ([3.1, 4.5, 2.2, 6.0, 5.1, 4.4], [1.2, 2.8, 0.5, 3.3, 2.0, 1.9, 2.4]),
    ([1, 2, 3, 4], [5, 6, 7, 8, 9]),
    ([1, 1, 2, 2, 3], [1, 2, 2, 3, 3, 4]),
    ([0.2, -0.4, 1.3, 0.9, 0.1, 0.0, 0.7, -0.2], [0.5, 1.1, 1.6, 0.8, 2.2, 1.4, 0.9]),
]
OUT["permutation"] = []
for x, y in perm_cases:
    x = [float(v) for v in x]
    y = [float(v) for v in y]
    tobs, p, total = perm_exact(x, y)
    OUT["permutation"].append({"x": x, "y": y, "diff": f(tobs), "p_exact": f(p), "n_perm": total})

# ------------------------------------------------ 5. Wilcoxon signed-rank
w_inputs = [
    ("exact_small", [1.83, 0.50, 1.62, 2.48, 1.68, 1.88, 1.55, 3.06, 1.30],
     [0.878, 0.647, 0.598, 2.05, 1.06, 1.29, 1.06, 3.14, 1.29]),
    ("exact_n1", [0.7], None),
    ("exact_allpos", list(np.arange(1, 13) * 0.37 + 0.01), None),
    ("exact_n20", list(rng.normal(0.4, 1, size=20)), None),
    ("exact_n50", list(rng.normal(0.1, 1, size=50)), None),
    ("approx_n80", list(rng.normal(0.2, 1, size=80)), None),
    ("zeros", [0, 0, 1.5, -0.5, 2.0, 3.0, -1.0, 4.0, 0.25, 2.5, 1.75, 0], None),
    ("ties", [1, 1, 2, -2, 3, 3, 3, -1, 4, 5, 2, 2], None),
    ("ties_int_large", list(rng.integers(-3, 6, size=200)), None),
    ("extreme", list(np.arange(1, 301) * 1.0), None),
]
OUT["wilcoxon"] = []
for name, x, y in w_inputs:
    x = [float(v) for v in x]
    if y is not None:
        y = [float(v) for v in y]
    d = np.array(x) - (np.array(y) if y is not None else 0)
    nz = d[d != 0]
    ties = len(set(np.abs(nz))) < len(nz)
    zeros = len(nz) < len(d)
    rec = {"name": name, "x": x, "y": y}
    ra = stats.wilcoxon(x, y, method="approx")
    rec["t"] = f(ra.statistic)
    rec["p_approx"] = f(ra.pvalue)
    rec["p_approx_cc"] = f(stats.wilcoxon(x, y, method="approx", correction=True).pvalue)
    if not ties and not zeros and len(d) <= 50:
        rec["p_exact"] = f(stats.wilcoxon(x, y, method="exact").pvalue)
    OUT["wilcoxon"].append(rec)

json.dump(OUT, sys.stdout, indent=1, allow_nan=False)
sys.stdout.write("\n")
