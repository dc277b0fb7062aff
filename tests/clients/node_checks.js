// node-postgres against the client checks' fixture. Usage: node node_checks.js HOST PORT DATABASE USER
const { Client } = require('pg');
const assert = require('assert');

(async () => {
  const [host, port, database, user] = process.argv.slice(2);
  const c = new Client({ host, port: +port, database, user });
  await c.connect();
  try {
    assert.deepStrictEqual((await c.query('SELECT $1::int4 * 2 AS n', [21])).rows, [{ n: 42 }]);
    assert.deepStrictEqual((await c.query('SELECT "ITEM" FROM "ORDERS" WHERE "ID" = $1', [2])).rows, [{ ITEM: 'pear' }]);
    const grouped = await c.query({ text: 'SELECT "ITEM", count(*)::int4 AS n FROM "ORDERS" GROUP BY "ITEM" ORDER BY "ITEM"', rowMode: 'array' });
    assert.deepStrictEqual(grouped.rows, [['apple', 1], ['fig, dried', 1], ['pear', 1]]);
    const tables = await c.query("SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY 1");
    assert.deepStrictEqual(tables.rows.map(r => r.table_name), ['IMPORTS', 'ORDERS', 'STOCK']);
  } finally {
    await c.end();
  }
  console.log('ok');
})().catch(e => { console.error(e.stack || e.message); process.exit(1); });
