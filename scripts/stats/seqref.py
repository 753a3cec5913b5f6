#!/usr/bin/env python3
"""Reference values for the group-sequential sign test (internal/stats/sequential.go).

Usage (standard library only):

    python3 scripts/stats/seqref.py > internal/stats/testdata/sequential.json

Independent of the Go code: instead of propagating the null distribution, it enumerates every
sequence of successes and failures (2^m paths, each of probability 2^-m) and applies the
definitions directly — Lan-DeMets Pocock-type spending alpha*ln(1+(e-1)t), the critical value of
|2S-m| at each look as the smallest one whose cumulative crossing probability stays within the
spending, and the stagewise-ordering p-value.
"""
import itertools
import json
import math


def spend(alpha, t):
    return alpha * math.log(1 + (math.e - 1) * t)


def design(alpha, looks):
    """looks: list of (t, m) with cumulative m. Returns bounds and a function path -> (stage, p)."""
    m_total = looks[-1][1]
    paths = list(itertools.product((0, 1), repeat=m_total))
    w = 2.0 ** -m_total
    bounds = []
    alive = set(range(len(paths)))
    crossed = 0.0
    stage_of = {}
    for k, (t, m) in enumerate(looks):
        stat = {i: abs(2 * sum(paths[i][:m]) - m) for i in alive}
        allowed = spend(alpha, t) * (1 + 1e-12)
        bound = m + 1
        for c in range(m, -1, -1):
            if (c - m) % 2:
                continue
            tail = sum(w for i in alive if stat[i] >= c)
            if crossed + tail > allowed:
                break
            bound = c
        for i in list(alive):
            if stat[i] >= bound:
                stage_of[i] = (k, stat[i])
                alive.discard(i)
        crossed += sum(w for i, (kk, _) in stage_of.items() if kk == k)
        bounds.append(bound)
    for i in alive:
        stage_of[i] = (len(looks) - 1, abs(2 * sum(paths[i]) - m_total))

    def pvalue(stage, stat):
        # Paths at least as extreme: stopped at an earlier look, or at this look with |T| >= stat
        # (for a stop at this look; the paths still alive there are compared on their |T| there).
        tot = 0.0
        m = looks[stage][1]
        for i, path in enumerate(paths):
            k, _ = stage_of[i]
            if k < stage:
                tot += w
            elif abs(2 * sum(path[:m]) - m) >= stat:
                tot += w
        return tot

    return bounds, pvalue, stage_of, paths


def main():
    cases = []
    for alpha, looks in [
        (0.05, [(1.0, 12)]),
        (0.05, [(0.25, 5), (0.5, 9), (1.0, 14)]),
        (0.2, [(0.3, 4), (0.6, 8), (1.0, 13)]),
        (0.01, [(0.5, 8), (1.0, 16)]),
        (0.1, [(0.2, 3), (0.4, 3), (0.7, 9), (1.0, 12)]),
    ]:
        bounds, pvalue, stage_of, paths = design(alpha, looks)
        # A few observed histories: (look at which the test stops, successes there).
        obs = []
        seen = set()
        for i, path in enumerate(paths):
            k, stat = stage_of[i]
            m = looks[k][1]
            s = sum(path[:m])
            key = (k, s)
            if key in seen:
                continue
            # Successes at every look up to k, for the Go test to replay.
            hist = [sum(path[:looks[j][1]]) for j in range(k + 1)]
            seen.add(key)
            obs.append({"successes": hist, "p": pvalue(k, stat)})
        cases.append({"alpha": alpha, "t": [t for t, _ in looks], "m": [m for _, m in looks],
                      "bounds": bounds, "observed": obs,
                      "reject_prob": sum(2.0 ** -looks[-1][1] for i in stage_of
                                         if abs(2 * sum(paths[i][:looks[stage_of[i][0]][1]]) - looks[stage_of[i][0]][1]) >= bounds[stage_of[i][0]])})
    power = []
    for m, theta, alpha in [(10, 0.8, 0.05), (25, 0.7, 0.01), (40, 0.65, 0.05), (7, 0.9, 0.1)]:
        tot = 0.0
        null = [math.comb(m, x) * 2.0 ** -m for x in range(m + 1)]
        bound = m + 1
        for c in range(m, -1, -1):
            if (c - m) % 2:
                continue
            if sum(null[x] for x in range(m + 1) if abs(2 * x - m) >= c) > alpha * (1 + 1e-12):
                break
            bound = c
        for x in range(m + 1):
            if abs(2 * x - m) >= bound:
                tot += math.comb(m, x) * theta ** x * (1 - theta) ** (m - x)
        power.append({"m": m, "theta": theta, "alpha": alpha, "power": tot})
    json.dump({"generator": "scripts/stats/seqref.py", "designs": cases, "power": power}, __import__("sys").stdout, indent=1)
    print()


main()
