#!/usr/bin/env bash
# Headless-browser check of an mbd-report page: opens report.html in headless Chromium (through
# chromedriver, driven by scripts/report-check/check.mjs over W3C WebDriver) and checks that the
# page logs no console error, makes no network request (Chromium's DevTools Network events, from
# chromedriver's performance log, may show only the report's own file:// URL), and has the expected
# sections and plots in its DOM; writes a full-page screenshot, OUT/report.png.
#
#   scripts/report-check.sh [REPORT.html | RUN_DIR] [OUT]
#
# RUN_DIR (default out/demo, from make demo) gets its report written to OUT/report.html first
# (go run ./cmd/mbd-report). OUT defaults to out/report-check. Installs the Debian packages chromium
# and chromium-driver when missing (apt-get; needs root); needs Node.js 18+ (as make interop does).
# Run by hand, or by go test ./internal/report -run TestBrowser (which skips when chromium is not
# installed). Takes a few seconds once Chromium is installed.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
target=${1:-$root/out/demo}
out=${2:-$root/out/report-check}
mkdir -p "$out"
out=$(cd "$out" && pwd)

if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then
	echo "report-check: installing chromium and chromium-driver" >&2
	apt-get update && apt-get install -y chromium chromium-driver
fi
command -v node >/dev/null || { echo "report-check: node not found (Node.js 18+ runs the WebDriver client)" >&2; exit 1; }

if [ -d "$target" ]; then
	report=$out/report.html
	(cd "$root" && go run ./cmd/mbd-report --html "$report" "$target" >/dev/null)
else
	report=$target
fi
[ -f "$report" ] || { echo "report-check: $report: no such file" >&2; exit 1; }

# The flags asked of every headless run here; chromedriver adds its own automation flags.
export CHROMIUM=${CHROMIUM:-$(command -v chromium)}
export CHROMIUM_FLAGS="--headless --no-sandbox --disable-gpu --disable-background-networking --disable-component-update --disable-default-apps --disable-sync --no-first-run --disable-dev-shm-usage"
export REQUIRED_IDS=${REQUIRED_IDS:-"top models summary validated other-hypotheses examples regions plots plot-map plot-shares plot-forest plot-calibration recovery weightdiff inputs"}

port=$(node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
chromedriver --port="$port" >"$out/chromedriver.log" 2>&1 &
driver_pid=$!
trap 'kill "$driver_pid" 2>/dev/null || true' EXIT

timeout 120 node "$root/scripts/report-check/check.mjs" "http://127.0.0.1:$port" "$report" "$out"
