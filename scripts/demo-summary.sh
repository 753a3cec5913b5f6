#!/usr/bin/env bash
# demo-summary.sh OUT PAIR...: the summary table of make demo, from each pair's report.json and
# recovery.json (Node.js reads the JSON).
set -euo pipefail
out=$1
shift
node - "$out" "$@" <<'JS'
const fs = require("fs");
const [out, ...pairs] = process.argv.slice(2);
const f = (x, d = 2) => (x === null || x === undefined ? "—" : Number(x).toFixed(d));
const q = (x) => (x === null || x === undefined ? "—" : Number(x).toPrecision(2));
console.log("| pair | inserted difference | recovered? | validated / proposed | best q | discriminative AUC | generative effect | interactive accuracy |");
console.log("|---|---|---|---|---|---|---|---|");
for (const p of pairs) {
  const r = JSON.parse(fs.readFileSync(`${out}/${p}/report.json`, "utf8"));
  let rec = "n/a";
  if (fs.existsSync(`${out}/${p}/recovery.json`)) {
    const j = JSON.parse(fs.readFileSync(`${out}/${p}/recovery.json`, "utf8"));
    rec = j.recovered > 0 ? `yes (precision ${j.precise}/${j.validated})` : `no (${j.validated} validated)`;
  } else if (p === "aa" || p === "control") {
    rec = r.summary.validated === 0 ? "yes: nothing validated" : `no: ${r.summary.validated} validated`;
  }
  // The best validated hypothesis (else the best tested one): its tests.
  const hs = [...r.hypotheses].sort((a, b) => (b.validated - a.validated) || ((a.best_q ?? 2) - (b.best_q ?? 2)));
  const h = hs[0];
  const t = (m) => (h ? h.tests.find((x) => x.method === m) : undefined);
  const d = t("discriminative"), g = t("generative"), i = t("interactive");
  const auc = d && d.effect !== null ? d.effect + 0.5 : null;
  const gen = g && g.effect !== null ? `${f(g.effect)} [${f(g.ci_low)}, ${f(g.ci_high)}] q=${q(g.q)}` : "—";
  console.log(`| ${p} | ${r.truth} | ${rec} | ${r.summary.validated} / ${r.summary.hypotheses} | ${q(r.summary.best_q)} | ${f(auc)} | ${gen} | ${i && i.statistic !== null ? f(i.statistic) : "—"} |`);
}
JS
