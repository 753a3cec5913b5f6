#!/usr/bin/env bash
# Interoperability check: mbd's Parquet files must be standard. DuckDB (through @duckdb/node-api)
# reads fixtures of every table written by mbd's writer and tables written by the real tools, and
# mbd reads tables written by DuckDB. Prints one line per check and, last,
# "interop: N passed, M failed"; exits non-zero on any failure.
#
# Needs go and node, and npm once. The first run installs @duckdb/node-api (pinned below) from the npm
# registry into a cache folder outside the repository; later runs work offline.
set -euo pipefail

DUCKDB_NODE_API_VERSION=1.5.6-r.1

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

for cmd in go node; do
	command -v "$cmd" >/dev/null || { echo "interop: $cmd not found" >&2; exit 1; }
done

# --- DuckDB for Node, cached ---------------------------------------------------------------------
duckdb_dir="${XDG_CACHE_HOME:-$HOME/.cache}/mbd/duckdb-node-$DUCKDB_NODE_API_VERSION"
duckdb_ok() {
	# Installed at the pinned version, with its native binding for this platform loadable.
	(cd "$1" && node -e '
		const v = require("@duckdb/node-api/package.json").version;
		if (v !== process.argv[1]) process.exit(1);
		require("@duckdb/node-api");
	' "$DUCKDB_NODE_API_VERSION") >/dev/null 2>&1
}
if ! [ -d "$duckdb_dir" ] || ! duckdb_ok "$duckdb_dir"; then
	command -v npm >/dev/null || { echo "interop: npm not found (needed once, to install @duckdb/node-api)" >&2; exit 1; }
	echo "interop: installing @duckdb/node-api@$DUCKDB_NODE_API_VERSION into $duckdb_dir" >&2
	mkdir -p "$(dirname "$duckdb_dir")"
	staging=$(mktemp -d "$duckdb_dir.tmp.XXXXXX")
	trap 'rm -rf "$staging"' EXIT
	echo '{"private": true}' >"$staging/package.json"
	npm install --prefix "$staging" --no-audit --no-fund --no-progress --loglevel=error \
		--save-exact --include=optional "@duckdb/node-api@$DUCKDB_NODE_API_VERSION" >"$staging/npm.log" 2>&1 ||
		{ cat "$staging/npm.log" >&2; echo "interop: npm install failed" >&2; exit 1; }
	duckdb_ok "$staging" || { echo "interop: @duckdb/node-api does not load after install" >&2; exit 1; }
	rm -rf "$duckdb_dir"
	mv "$staging" "$duckdb_dir"
	trap - EXIT
fi

# --- Build, fixtures, tool-written tables --------------------------------------------------------
tmp=$(mktemp -d "${TMPDIR:-/tmp}/mbd-interop.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/tools" "$tmp/reverse"

go build -o "$tmp/bin/" ./cmd/...
go test ./internal/table -run '^TestWriteInteropFixtures$' -count=1 -args -interop-dir "$tmp/fixtures" >"$tmp/gotest.log" 2>&1 ||
	{ cat "$tmp/gotest.log" >&2; echo "interop: writing fixtures failed" >&2; exit 1; }
[ -f "$tmp/fixtures/expected.json" ] || { echo "interop: no $tmp/fixtures/expected.json written" >&2; exit 1; }

prompts_rows=50
"$tmp/bin/mbd-prompts" --limit "$prompts_rows" -o "$tmp/tools/prompts.parquet" >"$tmp/tools.log" 2>&1 ||
	{ cat "$tmp/tools.log" >&2; echo "interop: mbd-prompts failed" >&2; exit 1; }

# 2 models x 10 prompts, imported as made elsewhere. JSON strings: no quotes or backslashes inside.
for model in A B; do
	for i in $(seq 1 10); do
		printf '{"model":"%s","prompt":"Question %d: what is café Ωmega?","completion":"Answer of %s to %d.\\nSecond line."}\n' \
			"$model" "$i" "$model" "$i"
	done
done >"$tmp/tools/records.jsonl"
generations_rows=$(($(wc -l <"$tmp/tools/records.jsonl")))
"$tmp/bin/mbd-gen" import "$tmp/tools/records.jsonl" -o "$tmp/tools/generations.parquet" >"$tmp/tools.log" 2>&1 ||
	{ cat "$tmp/tools.log" >&2; echo "interop: mbd-gen import failed" >&2; exit 1; }
"$tmp/bin/mbd-table" convert "$tmp/tools/generations.parquet" -o - 2>"$tmp/tools.log" |
	"$tmp/bin/mbd-table" convert - -o "$tmp/tools/generations-roundtrip.parquet" >>"$tmp/tools.log" 2>&1 ||
	{ cat "$tmp/tools.log" >&2; echo "interop: mbd-table convert pipe failed" >&2; exit 1; }

# --- Checks -------------------------------------------------------------------------------------
status=0
node scripts/interop/check.mjs --duckdb "$duckdb_dir" --bin "$tmp/bin" --fixtures "$tmp/fixtures" \
	--tools "$tmp/tools" --reverse "$tmp/reverse" \
	--prompts-rows "$prompts_rows" --generations-rows "$generations_rows" >"$tmp/check.out" 2>&1 || status=$?
cat "$tmp/check.out"
passed=$(grep -c '^ok ' "$tmp/check.out" || true)
failed=$(grep -c '^FAIL ' "$tmp/check.out" || true)
if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then
	echo "FAIL check.mjs exited with status $status"
	failed=1
fi
echo "interop: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
