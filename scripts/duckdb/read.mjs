// read.mjs prints the rows and key-value metadata of a Parquet file as read by DuckDB, an
// independent Parquet reader, so that tests can compare them with what abs wrote.
//
// Usage: node scripts/duckdb/read.mjs FILE.parquet
// Output: {"rows": [{column: value, ...}, ...], "kv": {key: value, ...}}
// 64-bit integers are printed as exact JSON numbers.
import { DuckDBInstance } from '@duckdb/node-api';

const file = process.argv[2];
if (!file) {
  console.error('usage: node read.mjs FILE.parquet');
  process.exit(2);
}
const instance = await DuckDBInstance.create(':memory:');
const conn = await instance.connect();
const rows = (await conn.runAndReadAll('SELECT * FROM read_parquet($1)', [file])).getRowObjectsJS();
const kvRows = (await conn.runAndReadAll(
  'SELECT decode(key) AS key, decode(value) AS value FROM parquet_kv_metadata($1)', [file])).getRowObjectsJS();
const kv = Object.fromEntries(kvRows.map((r) => [r.key, r.value]));

// JSON.stringify cannot print a BigInt; mark it and unquote the marked digits afterwards.
const text = JSON.stringify({ rows, kv }, (_, v) => (typeof v === 'bigint' ? `__bigint__${v}` : v));
process.stdout.write(text.replace(/"__bigint__(-?\d+)"/g, '$1') + '\n');
