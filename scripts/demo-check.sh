#!/usr/bin/env bash
# demo-check.sh OUT PAIR...: fails unless every pair with a known truth recovered it and the A/A
# pair validated nothing (make test runs the small demo and this check).
set -euo pipefail
out=$1
shift
node - "$out" "$@" <<'JS'
const fs = require("fs");
const [out, ...pairs] = process.argv.slice(2);
let bad = 0;
for (const p of pairs) {
  const r = JSON.parse(fs.readFileSync(`${out}/${p}/report.json`, "utf8"));
  if (p === "aa") {
    const ok = r.summary.validated === 0;
    console.log(`demo-check: aa: ${r.summary.validated} validated of ${r.summary.hypotheses} proposed: ${ok ? "ok" : "FAIL (an A/A pair must validate nothing)"}` +
      (r.summary.hypotheses === 0 ? " (nothing proposed; the calibration test exercises validation on A/A data)" : ""));
    bad += !ok;
  } else {
    const j = JSON.parse(fs.readFileSync(`${out}/${p}/recovery.json`, "utf8")); // missing: an error
    const ok = j.truths > 0 && j.recovered === j.truths;
    console.log(`demo-check: ${p}: recovered ${j.recovered}/${j.truths}, precision ${j.precise}/${j.validated}: ${ok ? "ok" : "FAIL"}`);
    bad += !ok;
  }
}
process.exit(bad ? 1 : 0);
JS
