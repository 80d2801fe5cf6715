# Usage: see test/drivers/README.md.  Needs a database with pg_topics and a
# topic t of 3 partitions.
# What psycopg2 sends for each common call, and how the server resolves it.
import psycopg2, psycopg2.extras, re
conn = psycopg2.connect('')  # PGHOST, PGPORT, PGDATABASE, PGUSER
conn.autocommit = True
cur = conn.cursor()
def tryq(label, sql, args):
    try:
        q = cur.mogrify(sql, args).decode()
    except Exception as e:
        print(f"{label}\n   client-side: {type(e).__name__}: {e}".rstrip()); return
    resolved = ''
    try:
        cur.execute('EXPLAIN (VERBOSE, COSTS OFF) ' + q)
        resolved = ' '.join(l for (l,) in cur.fetchall() if 'Function Call' in l).strip()
    except Exception as e:
        pass
    try:
        cur.execute(q)
        out = 'OK ' + repr(cur.fetchall())
    except psycopg2.Error as e:
        out = f'ERROR {e.pgcode}: {e.diag.message_primary}' + (f' HINT: {e.diag.message_hint}' if e.diag.message_hint else '')
    print(f"{label}\n   sent: {q}\n   resolved: {resolved}\n   -> {out}")
P = 'SELECT * FROM topics.produce(%s, %s)'
PK = 'SELECT * FROM topics.produce(%s, %s, %s)'
B = 'SELECT * FROM topics.produce_batch(%s, %s)'
BK = 'SELECT * FROM topics.produce_batch(%s, %s, %s)'
J = psycopg2.extras.Json
tryq('produce str', P, ('t', 'hello'))
tryq('produce str with backslash', P, ('t', 'a\\b'))
tryq('produce bytes', P, ('t', b'\xff\x00'))
tryq('produce dict plain', P, ('t', {'id': 1}))
tryq('produce Json(dict)', P, ('t', J({'id': 1})))
tryq('produce str+key', PK, ('t', 'hello', 'customer-7'))
tryq('produce bytes+str key', PK, ('t', b'\xff', 'customer-7'))
tryq('produce bytes+key with backslash', PK, ('t', b'\xff', 'k\\1'))
tryq('produce Json+key', PK, ('t', J({'id': 1}), 'customer-7'))
tryq('batch strs', B, ('t', ['a', 'b']))
tryq('batch strs+keys', BK, ('t', ['a', 'b'], ['k1', 'k2']))
tryq('batch bytes', B, ('t', [b'a', b'\xff']))
tryq('batch bytes+str keys', BK, ('t', [b'a', b'\xff'], ['k1', 'k2']))
tryq('batch Json', B, ('t', [J({'id': 1}), J({'id': 2})]))
tryq('batch dicts plain', B, ('t', [{'id': 1}]))
tryq('batch empty list', B, ('t', []))
tryq('batch list with None', BK, ('t', ['a', 'b'], [None, 'k']))
cur.execute("SELECT value FROM topics.fetch('t', 0, 0) LIMIT 1")
v = cur.fetchone()[0]
print('fetch value Python type:', type(v).__name__)
cur.execute("SELECT msg_offset FROM topics.produce('t', %s, partition => 0)",
            (J({'id': 1, 's': 'a"b\\c'}),))
off = cur.fetchone()[0]
cur.execute("SELECT convert_from(value, 'UTF8')::jsonb FROM topics.fetch('t', 0, %s, 1)", (off,))
v = cur.fetchone()[0]
print('convert_from(value, UTF8)::jsonb Python type:', type(v).__name__, v)
