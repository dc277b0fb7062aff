#!/usr/bin/env python3
"""Writes the fuzz targets' seed corpus (fuzz/corpus/<target>/, files named by SHA-1 as libFuzzer
names them). Run from anywhere; existing files are kept, so inputs libFuzzer added stay."""
import hashlib
import os
import struct

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")

SQL = [
    "SELECT * FROM s EMIT CHANGES LIMIT 2;",
    "SELECT id, i * 2 + l AS x, UCASE(t), CAST(d AS INT), m / 3, a[1], mp['x'], st->x FROM s WHERE b AND i > 0 EMIT CHANGES;",
    "SELECT * FROM t WHERE k = 'k1';",
    "SELECT k, n FROM t WHERE k IN ('k1', 'k2') OR n > 3;",
    "SELECT * FROM agg WHERE id = 1;",
    "SELECT * FROM win WHERE t = 'a' AND WINDOWSTART >= 0;",
    "SELECT COUNT(*), MAX(n) FROM agg GROUP BY id ORDER BY 1 DESC LIMIT 3;",
    "CREATE STREAM s2 AS SELECT id, LPAD(t, 5, '*') AS p, SPLIT(t, 'b') AS parts FROM s PARTITION BY t;",
    "CREATE TABLE hop AS SELECT id, COUNT(*) FROM s WINDOW HOPPING (SIZE 10 SECONDS, ADVANCE BY 5 SECONDS) GROUP BY id;",
    "CREATE TABLE sess AS SELECT id, COLLECT_LIST(t) FROM s WINDOW SESSION (30 SECONDS) GROUP BY id EMIT FINAL;",
    "CREATE STREAM j AS SELECT s.id, t.v FROM s JOIN t ON s.t = t.k;",
    "CREATE STREAM ss AS SELECT a.id, b.i FROM s a JOIN s b WITHIN 1 MINUTE ON a.id = b.id;",
    "CREATE STREAM ex AS SELECT id, EXPLODE(a) AS e FROM s;",
    "CREATE TABLE fk AS SELECT * FROM t JOIN agg ON t.n = agg.id;",
    "INSERT INTO s (id, i, t) VALUES (3, 4, 'x'); SELECT * FROM s EMIT CHANGES LIMIT 1;",
    "INSERT INTO c (k, n, v) VALUES ('z', 1, 'one');",
    "SELECT TRANSFORM(a, x => x + 1), FILTER(a, x => x > 1), REDUCE(a, 0, (s, x) => s + x) FROM s EMIT CHANGES;",
    "SELECT CASE WHEN i > 0 THEN 'p' WHEN i < 0 THEN 'n' ELSE 'z' END, COALESCE(t, 'x'), IFNULL(m, 0) FROM s EMIT CHANGES;",
    "SELECT STRUCT(a := 1, b := 'x'), ARRAY[1, 2], MAP('k' := 1), AS_VALUE(id) FROM s EMIT CHANGES;",
    "SELECT 1 / 0;",
    "SELECT CAST('x' AS INT);",
    "SELECT 1 + 1 + 1 + 1 + 1 + 1 + 1 + 1 + 1 + 1 + 1 + 1 + 1 + 1 + 1 + 1 + 1 + 1 + 1 + 1;",
    "SELECT * FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON c.relnamespace = n.oid WHERE n.nspname = 'public';",
    "SELECT version(), current_schema(), pg_catalog.format_type(23, NULL);",
    "SHOW STREAMS; SHOW TABLES; SHOW QUERIES; SHOW TOPICS; SHOW PROPERTIES; SHOW FUNCTIONS;",
    "DESCRIBE s EXTENDED; DESCRIBE agg;",
    "EXPLAIN SELECT * FROM s WHERE i > 1 EMIT CHANGES;",
    "SET 'auto.offset.reset'='earliest'; UNSET 'auto.offset.reset';",
    "BEGIN; SELECT 1; COMMIT;",
    "DROP TABLE win; TERMINATE ALL; DROP STREAM s;",
    "CREATE STREAM n (a ARRAY<ARRAY<MAP<STRING, STRUCT<x DECIMAL(4,2)>>>>) WITH (KAFKA_TOPIC='n', VALUE_FORMAT='JSON', PARTITIONS=1);",
    "PRINT 's' FROM BEGINNING LIMIT 2;",
    "SELECT TIMESTAMPTOSTRING(ROWTIME, 'yyyy-MM-dd HH:mm:ss.SSS', 'UTC'), FORMAT_DATE(dt, 'yyyy'), ts + INTERVAL '1' DAY FROM s EMIT CHANGES;",
    "SELECT t LIKE 'a%', t NOT LIKE '%b' ESCAPE '!', i BETWEEN 1 AND 3, t IS DISTINCT FROM 'a' FROM s EMIT CHANGES;",
    "COPY (SELECT * FROM t) TO STDOUT;",
    "DECLARE c1 CURSOR FOR SELECT * FROM t; FETCH 1 FROM c1; CLOSE c1;",
    "PREPARE p AS SELECT * FROM t WHERE k = $1; EXECUTE p('k1');",
]

RECORDS = [
    b'{"B":true,"I":1,"L":10,"D":1.5,"M":1.25,"T":"a","Y":"AQI=","DT":19000,"TM":3600000,"TS":1700000000000,"A":[1,2],"MP":{"x":[1.0]},"ST":{"X":1,"Z":[{"Q":true}]}}',
    b'{"A":1,"B":"k"}\xff{"I":"12","L":"9","D":"NaN","M":"1e3","T":5,"A":null}',
    b'{"V":"x","AT":"2024-01-02T03:04:05.678Z"}',
    b"1.234",
    b"k\xfftrue,1,2,3.5,10.5,str,AQI=,19000,100,1700000000000",
    b"1,2,3\n4",
    b'"quoted, value",,-0',
    b"\x00\x00\x00\x01\xff\x00\x00\x00\x02",
    b"\x00\x00\x00\x00\x00\x00\x00\x07\xff\x40\x09\x21\xfb\x54\x44\x2d\x18",
    b'[{"a":1},{"b":-2147483648}]',
    b'{"k":"\\ud83d\\ude00","v":[{"x":2147483648}]}',
    b"\xc3\x28",
]


def message(tag, body):
    return tag + struct.pack("!i", len(body) + 4) + body


def cstr(s):
    return s.encode() + b"\0"


def query(sql):
    return message(b"Q", cstr(sql))


def parse(name, sql, types=()):
    return message(b"P", cstr(name) + cstr(sql) + struct.pack("!h", len(types)) + b"".join(struct.pack("!i", t) for t in types))


def bind(portal, stmt, params, formats=(), result_formats=()):
    body = cstr(portal) + cstr(stmt) + struct.pack("!h", len(formats)) + b"".join(struct.pack("!h", f) for f in formats)
    body += struct.pack("!h", len(params))
    for p in params:
        body += struct.pack("!i", -1) if p is None else struct.pack("!i", len(p)) + p
    body += struct.pack("!h", len(result_formats)) + b"".join(struct.pack("!h", f) for f in result_formats)
    return message(b"B", body)


def describe(kind, name):
    return message(b"D", kind + cstr(name))


def execute(portal, rows=0):
    return message(b"E", cstr(portal) + struct.pack("!i", rows))


SYNC = message(b"S", b"")
FLUSH = message(b"H", b"")
TERMINATE = message(b"X", b"")

# The first byte is the mode (even: a valid startup comes first; odd: the bytes are sent as they are).
STARTED = [
    query("SELECT 1"),
    query("CREATE STREAM w (k INT KEY, v STRING) WITH (KAFKA_TOPIC='w', VALUE_FORMAT='JSON', PARTITIONS=1); INSERT INTO w (k, v) VALUES (1, 'a'); SELECT * FROM w EMIT CHANGES LIMIT 1;"),
    query("SELECT 1; SELECT 'x' || NULL; SHOW STREAMS;") + TERMINATE,
    parse("", "SELECT $1::int + 1", (23,)) + bind("", "", [b"41"]) + describe(b"P", "") + execute("") + SYNC,
    parse("s1", "SELECT $1, $2", (25, 20)) + describe(b"S", "s1") + bind("p1", "s1", [b"x", struct.pack("!q", 7)], (0, 1), (1,)) + execute("p1", 1) + FLUSH + SYNC,
    parse("", "SELECT $99999999999") + describe(b"S", "") + SYNC,
    parse("", "SELECT * FROM pg_catalog.pg_type WHERE oid = $1", (26,)) + bind("", "", [None]) + execute("") + SYNC,
    message(b"C", b"S" + cstr("s1")) + message(b"C", b"P" + cstr("p1")) + SYNC,
    query("BEGIN") + query("SELECT 1/0") + query("ROLLBACK"),
    query("CREATE STREAM cp (k INT KEY, v STRING) WITH (KAFKA_TOPIC='cp', VALUE_FORMAT='JSON', PARTITIONS=1)") + query("COPY cp FROM STDIN") + message(b"d", b"1\tx\n2\ty\n") + message(b"c", b""),
    query("COPY cp FROM STDIN") + message(b"d", b"bad") + message(b"f", cstr("client gave up")),
    message(b"F", struct.pack("!i", 1) + struct.pack("!h", 0) + struct.pack("!h", 0) + struct.pack("!h", 0)),
    query("SELECT 1\0DROP STREAM w"),
    b"Q\x00\x00\x00\x02",
    b"P\x00\x00\x00\x0aabc",
    message(b"p", cstr("password")),
]
RAW = [
    struct.pack("!ii", 8, 80877103),  # SSLRequest
    struct.pack("!ii", 8, 80877104),  # GSSENCRequest
    struct.pack("!iiii", 16, 80877102, 1, 2),  # CancelRequest
    struct.pack("!ii", 9, 196608) + b"\0",
    struct.pack("!ii", 8, 1234),
]


def write(target, items):
    folder = os.path.join(ROOT, target)
    os.makedirs(folder, exist_ok=True)
    for data in items:
        name = hashlib.sha1(data).hexdigest()
        with open(os.path.join(folder, name), "wb") as f:
            f.write(data)


write("sql_statements", [s.encode() for s in SQL])
write("record_decoders", RECORDS)
write("pg_messages", [b"\0" + m for m in STARTED] + [b"\1" + m for m in RAW])
