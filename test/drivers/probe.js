// Usage: see test/drivers/README.md.  Needs a database with pg_topics and a
// topic t of 3 partitions.
// What node-postgres sends for each common call, and how the server resolves it.
const { Client } = require('pg');
let n = 0;
async function tryq(c, label, text, values) {
  const name = 'p' + (++n);
  let out;
  try {
    const r = await c.query({ name, text, values });
    out = 'OK ' + JSON.stringify(r.rows);
  } catch (e) {
    out = `ERROR ${e.code}: ${e.message}` + (e.hint ? ` HINT: ${e.hint}` : '');
  }
  const t = await c.query('SELECT parameter_types::text FROM pg_prepared_statements WHERE name = $1', [name]);
  const types = t.rows.length ? t.rows[0].parameter_types : '(not prepared)';
  const fmt = values.map(v => v instanceof Buffer ? 'bin' : (v === null ? 'null' : 'text')).join(',');
  console.log(`${label}\n   sent formats: ${fmt}; server types: ${types}\n   -> ${out}`);
}
(async () => {
  const c = new Client();  // PGHOST, PGPORT, PGDATABASE, PGUSER
  await c.connect();
  const P = 'SELECT * FROM topics.produce($1, $2)';
  const PK = 'SELECT * FROM topics.produce($1, $2, $3)';
  const B = 'SELECT * FROM topics.produce_batch($1, $2)';
  const BK = 'SELECT * FROM topics.produce_batch($1, $2, $3)';
  await tryq(c, 'produce string', P, ['t', 'hello']);
  await tryq(c, 'produce object', P, ['t', { id: 1, s: 'a"b\\c' }]);
  await tryq(c, 'produce Buffer utf8', P, ['t', Buffer.from('hi')]);
  await tryq(c, 'produce Buffer non-utf8', P, ['t', Buffer.from([0xff, 0x00, 0x01])]);
  await tryq(c, 'produce string+key', PK, ['t', 'hello', 'customer-7']);
  await tryq(c, 'produce object+key', PK, ['t', { id: 1 }, 'customer-7']);
  await tryq(c, 'produce Buffer+key', PK, ['t', Buffer.from([0xff]), 'k']);
  await tryq(c, 'produce Buffer+Buffer key', PK, ['t', Buffer.from([0xff]), Buffer.from([0xfe])]);
  await tryq(c, 'produce $2::bytea Buffer', 'SELECT * FROM topics.produce($1, $2::bytea)', ['t', Buffer.from([0xff, 0x00])]);
  await tryq(c, 'produce $2::bytea Buffer + key', 'SELECT * FROM topics.produce($1, $2::bytea, $3)', ['t', Buffer.from([0xff, 0x00]), 'k']);
  await tryq(c, 'produce $2::jsonb object', 'SELECT * FROM topics.produce($1, $2::jsonb)', ['t', { id: 1 }]);
  await tryq(c, 'batch strings', B, ['t', ['a', 'b']]);
  await tryq(c, 'batch strings+keys', BK, ['t', ['a', 'b'], ['k1', 'k2']]);
  await tryq(c, 'batch Buffers', B, ['t', [Buffer.from('a'), Buffer.from([0xff])]]);
  await tryq(c, 'batch objects', B, ['t', [{ id: 1 }, { id: 2 }]]);
  await tryq(c, 'batch $2::text[]', 'SELECT * FROM topics.produce_batch($1, $2::text[], $3)', ['t', ['a', 'b'], ['k1', 'k2']]);
  await tryq(c, 'batch $2::bytea[] Buffers', 'SELECT * FROM topics.produce_batch($1, $2::bytea[])', ['t', [Buffer.from('a'), Buffer.from([0xff])]]);
  await tryq(c, 'batch $2::jsonb[] objects', 'SELECT * FROM topics.produce_batch($1, $2::jsonb[])', ['t', [{ id: 1 }, { id: 2 }]]);
  await tryq(c, 'batch Buffers+keys', BK, ['t', [Buffer.from('a'), Buffer.from([0xff])], ['k1','k2']]);
  await tryq(c, 'batch objects+keys', BK, ['t', [{id: 1}, {id: 2}], ['k1', null]]);
  await tryq(c, 'batch empty', B, ['t', []]);
  await tryq(c, 'fetch', 'SELECT msg_offset, key, value FROM topics.fetch($1, $2, $3) LIMIT 2', ['t', 0, 0]);
  await tryq(c, 'fetch convert_from', "SELECT msg_offset, convert_from(value, 'UTF8') AS value FROM topics.fetch($1, $2, $3) LIMIT 2", ['t', 0, 0]);
  await tryq(c, 'fetch ::jsonb', "SELECT msg_offset, convert_from(value, 'UTF8')::jsonb AS value FROM topics.fetch($1, $2, $3) WHERE msg_offset = 1", ['t', 1, 0]);
  const r = await c.query('SELECT value FROM topics.fetch($1, 0, 0) LIMIT 1', ['t']);
  console.log('fetch value JS type:', r.rows[0].value.constructor.name, 'JSON.parse(Buffer) ok?', (() => { try { JSON.parse(r.rows[0].value); return 'yes'; } catch (e) { return 'no: ' + e.message; } })());
  await c.end();
})();
