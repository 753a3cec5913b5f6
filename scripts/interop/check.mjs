// Interoperability checks of mbd's Parquet files against DuckDB (@duckdb/node-api), run by
// scripts/interop.sh. Prints one line per check, "ok ..." or "FAIL ...", and exits 1 if any failed.
//
//   node check.mjs --duckdb DIR --bin DIR --fixtures DIR --tools DIR --reverse DIR \
//       --prompts-rows N --generations-rows N
//
// --duckdb   folder where @duckdb/node-api is installed (DIR/node_modules/@duckdb/node-api)
// --bin      folder with the built mbd tools (for the reverse direction)
// --fixtures folder written by TestWriteInteropFixtures: one NAME.parquet per table and expected.json
// --tools    folder with prompts.parquet, generations.parquet and generations-roundtrip.parquet,
//            written by the real tools
// --reverse  empty folder where DuckDB writes tables for mbd to read

import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

const { values: args } = parseArgs({
  options: {
    duckdb: { type: 'string' },
    bin: { type: 'string' },
    fixtures: { type: 'string' },
    tools: { type: 'string' },
    reverse: { type: 'string' },
    'prompts-rows': { type: 'string' },
    'generations-rows': { type: 'string' },
  },
});
for (const k of ['duckdb', 'bin', 'fixtures', 'tools', 'reverse', 'prompts-rows', 'generations-rows']) {
  if (!args[k]) {
    console.error(`check.mjs: missing --${k}`);
    process.exit(2);
  }
}

const require = createRequire(join(args.duckdb, 'package.json'));
const { DuckDBInstance } = require('@duckdb/node-api');
const duckdbVersion = require('@duckdb/node-api/package.json').version;

let passed = 0;
let failed = 0;

function ok(name, cond, detail = '') {
  if (cond) {
    passed++;
    console.log(`ok   ${name}`);
  } else {
    failed++;
    console.log(`FAIL ${name}${detail ? ': ' + detail : ''}`);
  }
}

// check runs fn, which returns [cond, detail]; an exception is a failure.
async function check(name, fn) {
  try {
    const [cond, detail] = await fn();
    ok(name, cond, detail);
  } catch (e) {
    ok(name, false, String(e?.message ?? e).split('\n')[0]);
  }
}

const instance = await DuckDBInstance.create(':memory:', { threads: '4' });
const con = await instance.connect();

async function rows(sql) {
  return (await con.runAndReadAll(sql)).getRowObjectsJson();
}
async function one(sql) {
  const r = await rows(sql);
  return Object.values(r[0])[0];
}

const q = (s) => `'${s.replaceAll("'", "''")}'`; // SQL string literal
const id = (s) => `"${s.replaceAll('"', '""')}"`; // SQL identifier
const pq = (path) => `read_parquet(${q(path)})`;
const show = (v) => JSON.stringify(v)?.slice(0, 200);

function equal(a, b) {
  if (Array.isArray(a) || Array.isArray(b)) {
    return Array.isArray(a) && Array.isArray(b) && a.length === b.length && a.every((x, i) => equal(x, b[i]));
  }
  if (a && b && typeof a === 'object' && typeof b === 'object') {
    const ka = Object.keys(a).sort();
    const kb = Object.keys(b).sort();
    return equal(ka, kb) && ka.every((k) => equal(a[k], b[k]));
  }
  return a === b;
}

// DuckDB's name for an mbd column type ("optional " is not part of it).
function duckType(t) {
  t = t.replace(/^optional /, '');
  const list = t.match(/^list<(.*)>$/);
  const base = { string: 'VARCHAR', bool: 'BOOLEAN', int32: 'INTEGER', int64: 'BIGINT', float32: 'FLOAT', float64: 'DOUBLE' };
  return list ? base[list[1]] + '[]' : base[t];
}

async function schemaID(path) {
  const r = await rows(`SELECT decode(value) AS v FROM parquet_kv_metadata(${q(path)}) WHERE decode(key) = 'mbd.schema'`);
  return r.map((x) => x.v);
}

// Top-level columns of a Parquet file with their repetition (REQUIRED, OPTIONAL, REPEATED).
async function topLevelRepetition(path) {
  const nodes = await rows(`SELECT name, repetition_type, num_children FROM parquet_schema(${q(path)})`);
  const out = {};
  let i = 1;
  const skip = () => {
    const n = Number(nodes[i].num_children ?? 0);
    i++;
    for (let k = 0; k < n; k++) skip();
  };
  for (let c = 0; c < Number(nodes[0].num_children); c++) {
    out[nodes[i].name] = nodes[i].repetition_type;
    skip();
  }
  return out;
}

console.log(`DuckDB ${await one('SELECT version()')} (@duckdb/node-api ${duckdbVersion})`);

// 1. Fixtures written by mbd's writer, one per table.
const expected = JSON.parse(readFileSync(join(args.fixtures, 'expected.json'), 'utf8'));
for (const e of expected.tables) {
  const path = join(args.fixtures, e.file);
  const from = pq(path);
  const name = e.name;

  await check(`${name}: mbd.schema metadata is ${e.id}`, async () => {
    const v = await schemaID(path);
    return [v.length === 1 && v[0] === e.id, `got ${show(v)}`];
  });
  await check(`${name}: ${e.rows} rows`, async () => {
    const n = Number(await one(`SELECT count(*) FROM ${from}`));
    return [n === e.rows, `got ${n}`];
  });
  await check(`${name}: column names and types`, async () => {
    const got = (await rows(`DESCRIBE SELECT * FROM ${from}`)).map((r) => `${r.column_name} ${r.column_type}`);
    const want = e.columns.map((c) => `${c.name} ${duckType(c.type)}`);
    return [equal(got, want), `got ${show(got)}, want ${show(want)}`];
  });
  await check(`${name}: required/optional columns`, async () => {
    const got = await topLevelRepetition(path);
    const want = Object.fromEntries(e.columns.map((c) => [c.name, c.type.startsWith('optional ') ? 'OPTIONAL' : 'REQUIRED']));
    return [equal(got, want), `got ${show(got)}, want ${show(want)}`];
  });
  await check(`${name}: first row's ${e.first_column}`, async () => {
    const v = await one(`SELECT ${id(e.first_column)} FROM ${from} LIMIT 1`);
    return [equal(v, e.first_value), `got ${show(v)}, want ${show(e.first_value)}`];
  });
  await check(`${name}: first row, every column`, async () => {
    const [r] = await rows(`SELECT * FROM ${from} LIMIT 1`);
    return [equal(r, e.first_row), `got ${show(r)}, want ${show(e.first_row)}`];
  });
  for (const s of e.sums) {
    await check(`${name}: sum(${s.column})`, async () => {
      const [r] = await rows(`SELECT sum(${id(s.column)})::DOUBLE AS f, sum(${id(s.column)})::VARCHAR AS x FROM ${from}`);
      if (s.exact !== undefined) {
        return [r.x === s.exact, `got ${r.x}, want ${s.exact}`];
      }
      const tol = 1e-6 * Math.max(1, Math.abs(s.sum));
      return [Math.abs(r.f - s.sum) <= tol, `got ${r.f}, want ${s.sum}`];
    });
  }
  for (const n of e.nulls) {
    await check(`${name}: nulls in ${n.column}`, async () => {
      const got = Number(await one(`SELECT count(*) - count(${id(n.column)}) FROM ${from}`));
      return [got === n.count, `got ${got}, want ${n.count}`];
    });
  }
  for (const l of e.list_lengths) {
    await check(`${name}: sum(len(${l.column}))`, async () => {
      const got = Number(await one(`SELECT sum(len(${id(l.column)})) FROM ${from}`));
      return [got === l.count, `got ${got}, want ${l.count}`];
    });
  }
}

// 2. Tables written by the real tools.
const tools = {
  prompts: join(args.tools, 'prompts.parquet'),
  generations: join(args.tools, 'generations.parquet'),
  roundtrip: join(args.tools, 'generations-roundtrip.parquet'),
};
const toolRows = { prompts: Number(args['prompts-rows']), generations: Number(args['generations-rows']), roundtrip: Number(args['generations-rows']) };
const toolID = { prompts: 'prompts/v1', generations: 'generations/v1', roundtrip: 'generations/v1' };
for (const [k, path] of Object.entries(tools)) {
  const file = `tools/${k === 'roundtrip' ? 'generations-roundtrip' : k}.parquet`;
  await check(`${file}: ${toolRows[k]} rows`, async () => {
    const n = Number(await one(`SELECT count(*) FROM ${pq(path)}`));
    return [n === toolRows[k], `got ${n}`];
  });
  await check(`${file}: mbd.schema metadata is ${toolID[k]}`, async () => {
    const v = await schemaID(path);
    return [v.length === 1 && v[0] === toolID[k], `got ${show(v)}`];
  });
}
await check('tools/prompts.parquet: id = first 16 hex digits of sha256(text)', async () => {
  const n = Number(await one(`SELECT count(*) FROM ${pq(tools.prompts)} WHERE id <> left(sha256(text), 16)`));
  return [n === 0, `${n} rows differ`];
});
await check('tools/generations.parquet: prompt_id = first 16 hex digits of sha256(prompt)', async () => {
  const n = Number(await one(`SELECT count(*) FROM ${pq(tools.generations)} WHERE prompt_id <> left(sha256(prompt), 16)`));
  return [n === 0, `${n} rows differ`];
});
for (const [a, b] of [['generations', 'roundtrip'], ['roundtrip', 'generations']]) {
  await check(`tools: rows of ${a} EXCEPT ALL rows of ${b} is empty`, async () => {
    const n = Number(await one(`SELECT count(*) FROM (SELECT * FROM ${pq(tools[a])} EXCEPT ALL SELECT * FROM ${pq(tools[b])})`));
    return [n === 0, `${n} rows`];
  });
}

// 3. Reverse direction: DuckDB writes tables (all columns nullable, no mbd.schema metadata) and mbd reads them.
function mbdTable(...argv) {
  const r = spawnSync(join(args.bin, 'mbd-table'), argv, { encoding: 'utf8', maxBuffer: 256 << 20 });
  if (r.error) throw r.error;
  return r;
}
function summaryRows(r) {
  if (r.status !== 0) throw new Error(`exit status ${r.status}: ${r.stderr.trim()}`);
  return JSON.parse(r.stdout).rows;
}
function jsonl(stdout) {
  return stdout.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l));
}

// A prompts-shaped query of n rows; the text of row nullAt (if given) is NULL.
const promptsSQL = (n, nullAt = -1) => `
  SELECT left(sha256('prompt ' || i || ' café'), 16) AS id,
         CASE WHEN i = ${nullAt} THEN NULL ELSE 'prompt ' || i || ' café' END AS text,
         'duckdb' AS source,
         CASE WHEN i % 3 = 0 THEN '' ELSE 'advice' END AS category,
         CASE WHEN i % 2 = 0 THEN 'discovery' ELSE 'validation' END AS split
  FROM range(${n}) t(i)`;
const reverse = [
  { file: 'prompts.parquet', table: 'prompts', rows: 123, sql: promptsSQL(123), opts: 'FORMAT parquet' },
  { file: 'prompts-zstd-rowgroups.parquet', table: 'prompts', rows: 5000, sql: promptsSQL(5000), opts: 'FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE 2048', groups: true },
  {
    file: 'embeddings.parquet', table: 'embeddings', rows: 50, opts: 'FORMAT parquet',
    sql: `SELECT 'g' || i AS generation_id, 'builtin:test' AS embedder, left(sha256('t' || i), 16) AS text_hash,
                 list_transform(range(i % 5), x -> (x + i) / 7)::FLOAT[] AS vector
          FROM range(50) t(i)`,
  },
];
for (const r of reverse) {
  const path = join(args.reverse, r.file);
  await con.run(`COPY (${r.sql}) TO ${q(path)} (${r.opts})`);
  if (r.groups) {
    await check(`reverse/${r.file}: DuckDB wrote several row groups`, async () => {
      const n = Number(await one(`SELECT num_row_groups FROM parquet_file_metadata(${q(path)})`));
      return [n > 1, `got ${n}`];
    });
  }
  await check(`reverse/${r.file}: mbd-table summary --table ${r.table} reads ${r.rows} rows`, async () => {
    const n = summaryRows(mbdTable('summary', '--table', r.table, '--json', path));
    return [n === r.rows, `got ${n}`];
  });
  await check(`reverse/${r.file}: mbd-table cat --table ${r.table} gives DuckDB's rows`, async () => {
    const res = mbdTable('cat', '--table', r.table, path);
    if (res.status !== 0) return [false, `exit status ${res.status}: ${res.stderr.trim()}`];
    const got = jsonl(res.stdout);
    // mbd prints float32 in its shortest float32 form; DuckDB gives the exact double.
    const norm = (row) => ({ ...row, ...(row.vector ? { vector: row.vector.map(Math.fround) } : {}) });
    const want = await rows(`SELECT * FROM ${pq(path)}`);
    const bad = want.findIndex((w, i) => !equal(norm(got[i] ?? {}), norm(w)));
    return [got.length === want.length && bad < 0, bad < 0 ? `got ${got.length} rows` : `row ${bad}: got ${show(got[bad])}, want ${show(want[bad])}`];
  });
}

{
  const path = join(args.reverse, 'prompts-null-text.parquet');
  await con.run(`COPY (${promptsSQL(20, 7)}) TO ${q(path)} (FORMAT parquet)`);
  await check('reverse/prompts-null-text.parquet: DuckDB sees 1 null text', async () => {
    const n = Number(await one(`SELECT count(*) FROM ${pq(path)} WHERE text IS NULL`));
    return [n === 1, `got ${n}`];
  });
  await check('reverse/prompts-null-text.parquet: mbd-table summary exits 2 naming column "text"', async () => {
    const res = mbdTable('summary', '--table', 'prompts', path);
    const msg = res.stderr.trim();
    return [res.status === 2 && msg.includes('"text"'), `exit status ${res.status}, stderr ${show(msg)}`];
  });
}

// Nulls that a required list column cannot hold: a null vector, and a null element inside one.
for (const [file, vector, what] of [
  ['embeddings-null-list.parquet', `CASE WHEN i = 3 THEN NULL ELSE [1.0, 2.0]::FLOAT[] END`, 'nulls'],
  ['embeddings-null-element.parquet', `CASE WHEN i = 3 THEN [1.0, NULL]::FLOAT[] ELSE [1.0, 2.0]::FLOAT[] END`, 'null list elements'],
]) {
  const path = join(args.reverse, file);
  await con.run(`COPY (SELECT 'g' || i AS generation_id, 'e' AS embedder, 'h' AS text_hash, ${vector} AS vector
                       FROM range(10) t(i)) TO ${q(path)} (FORMAT parquet)`);
  await check(`reverse/${file}: mbd-table cat exits 2 naming column "vector" (${what})`, async () => {
    const res = mbdTable('cat', '--table', 'embeddings', path);
    const msg = res.stderr.trim();
    return [res.status === 2 && msg.includes('"vector"') && msg.includes(what), `exit status ${res.status}, stderr ${show(msg)}`];
  });
}

con.closeSync();
console.log(`check.mjs: ${passed} passed, ${failed} failed`);
process.exit(failed > 0 ? 1 : 0);
