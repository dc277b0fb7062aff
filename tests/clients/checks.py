"""Client checks: what real Postgres clients do, run against PostgreSQL (the control) and Eddy.

Every check is a function of a `Target` that raises when the client does not get what it must.
A check that fails on PostgreSQL is a broken check. A check that passes on PostgreSQL must pass on
Eddy, unless it is listed in `differences.txt` with the reason (a ksqlDB rule Eddy follows).

Usage: checks.py --target NAME=HOST:PORT:DATABASE:USER:COPY_TARGET ... [--only REGEX]
"""

import argparse
import asyncio
import datetime
import decimal
import os
import re
import subprocess
import sys
import tempfile
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
CHECKS = []


def check(fn):
    CHECKS.append(fn)
    return fn


class Target:
    def __init__(self, spec):
        name, rest = spec.split("=", 1)
        self.name = name
        self.host, port, self.database, self.user, self.copy_target = rest.split(":", 4)
        self.port = int(port)

    def dsn(self):
        return f"host={self.host} port={self.port} dbname={self.database} user={self.user}"

    def url(self, driver):
        return f"postgresql+{driver}://{self.user}@{self.host}:{self.port}/{self.database}"

    def psql(self, *args, stdin=None, env=None):
        cmd = ["psql", "-X", "-h", self.host, "-p", str(self.port), "-U", self.user, "-d", self.database,
               "-v", "ON_ERROR_STOP=1", *args]
        result = subprocess.run(cmd, input=stdin, capture_output=True, text=True, timeout=60,
                                env={**os.environ, **(env or {})})
        if result.returncode != 0:
            raise AssertionError(f"psql {' '.join(args)}: {result.stderr.strip()}")
        return result.stdout


def expect(condition, message):
    if not condition:
        raise AssertionError(message)


def contains(text, *needles):
    for n in needles:
        expect(n in text, f"missing {n!r} in:\n{text}")


# --- psql ----------------------------------------------------------------------------------------

@check
def psql_version(t):
    contains(t.psql("-c", "SELECT version()"), "PostgreSQL")


@check
def psql_dt(t):
    out = t.psql("-c", r"\dt")
    expect(re.search(r"public\s*\|\s*STOCK\s*\|\s*table", out), out)


@check
def psql_dv(t):
    out = t.psql("-c", r"\dv")
    expect(re.search(r"public\s*\|\s*ORDERS\s*\|\s*view", out), out)


@check
def psql_d(t):
    out = t.psql("-c", r"\d")
    expect(re.search(r"ORDERS\s*\|\s*view", out) and re.search(r"STOCK\s*\|\s*table", out), out)


@check
def psql_d_table(t):
    out = t.psql("-c", r'\d "STOCK"')
    contains(out, 'Table "public.STOCK"', '"STOCK_pkey" PRIMARY KEY, btree ("ITEM")')
    expect(re.search(r"ITEM\s*\|\s*text\s*\|\s*\|\s*not null", out), out)
    expect(re.search(r"N\s*\|\s*integer", out), out)


@check
def psql_d_plus(t):
    out = t.psql("-c", r'\d+ "STOCK"')
    contains(out, "Storage", '"STOCK_pkey" PRIMARY KEY')


@check
def psql_d_view(t):
    out = t.psql("-c", r'\d "ORDERS"')
    contains(out, 'View "public.ORDERS"', "ITEM")


@check
def psql_l(t):
    contains(t.psql("-c", r"\l"), t.database)


@check
def psql_dn(t):
    contains(t.psql("-c", r"\dn"), "public")


@check
def psql_df(t):
    contains(t.psql("-c", r"\df"), "List of functions")


@check
def psql_du(t):
    contains(t.psql("-c", r"\du"), t.user)


@check
def psql_di(t):
    out = t.psql("-c", r"\di")
    expect(re.search(r"STOCK_pkey\s*\|\s*index\s*\|\s*\S+\s*\|\s*STOCK", out), out)


@check
def psql_expanded(t):
    out = t.psql("-c", r"\x on", "-c", 'SELECT "ITEM", "N" FROM "STOCK" ORDER BY "ITEM"')
    contains(out, "-[ RECORD 1 ]", "ITEM | apple", "N    | 10")


@check
def psql_fetch_count(t):
    out = t.psql("-A", "-t", "-c", r"\set FETCH_COUNT 1", "-c", 'SELECT "ID", "ITEM" FROM "ORDERS" ORDER BY "ID"')
    expect(out.split() == ["1|apple", "2|pear", "3|fig,", "dried"], out)


@check
def psql_copy_out(t):
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "out.csv")
        t.psql("-c", f"\\copy (SELECT \"ID\", \"ITEM\" FROM \"ORDERS\" ORDER BY \"ID\") TO '{path}' CSV HEADER")
        content = open(path).read()
    expect(content == 'ID,ITEM\n1,apple\n2,pear\n3,"fig, dried"\n', repr(content))


@check
def psql_copy_in(t):
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "in.csv")
        open(path, "w").write('id,item,qty\n10,kiwi,1\n11,"plum, red",2\n')
        out = t.psql("-c", f"\\copy {t.copy_target} (id, item, qty) FROM '{path}' CSV HEADER")
        contains(out, "COPY 2")
        bad = os.path.join(d, "bad.csv")
        open(bad, "w").write("id,item,qty\n12,lime,3\nx,bad,4\n")
        try:
            t.psql("-c", f"\\copy {t.copy_target} (id, item, qty) FROM '{bad}' CSV HEADER")
            raise AssertionError("a bad row was accepted")
        except AssertionError as e:
            contains(str(e), 'invalid input syntax for type integer: "x"', "line 3")
    out = t.psql("-A", "-t", "-c", 'SELECT "ID", "ITEM" FROM "IMPORTS" ORDER BY "ID"')
    expect(out.split("\n")[:2] == ["10|kiwi", "11|plum, red"], out)


@check
def psql_show_settings(t):
    out = t.psql("-A", "-t", "-c", "SHOW TIME ZONE", "-c", "SET DateStyle TO 'ISO, DMY'", "-c", "SHOW DateStyle",
                 "-c", "SHOW TRANSACTION ISOLATION LEVEL", "-c", "SHOW server_version_num")
    lines = out.split()
    expect(lines[0] in ("UTC", "Etc/UTC") and lines[1:] == ["SET", "ISO,", "DMY", "read", "committed", lines[-1]]
           and lines[-1].isdigit(), out)


# --- psycopg 3 -----------------------------------------------------------------------------------

def psycopg_connect(t, **kw):
    import psycopg
    return psycopg.connect(t.dsn(), **kw)


PARAMS = [
    ("int", 41, 41),
    ("bigint", 2**40, 2**40),
    ("float8", 1.5, 1.5),
    ("numeric", decimal.Decimal("12.50"), decimal.Decimal("12.50")),
    ("text", "007", "007"),
    ("bool", True, True),
    ("date", datetime.date(2024, 1, 2), datetime.date(2024, 1, 2)),
    ("timestamp", datetime.datetime(2024, 1, 2, 3, 4, 5, 500000), datetime.datetime(2024, 1, 2, 3, 4, 5, 500000)),
    ("bytea", b"\x00\xffab", b"\x00\xffab"),
]


@check
def psycopg_params_text(t):
    with psycopg_connect(t, autocommit=True) as c:
        for ty, value, want in PARAMS:
            got = c.execute(f"SELECT %s::{ty}", [value]).fetchone()[0]
            expect(got == want, f"{ty}: {got!r} != {want!r}")
        expect(c.execute("SELECT %s::int + 1", [41]).fetchone()[0] == 42, "int arithmetic")


@check
def psycopg_params_binary(t):
    with psycopg_connect(t, autocommit=True) as c:
        cur = c.cursor(binary=True)
        for ty, value, want in PARAMS:
            got = cur.execute(f"SELECT %b::{ty}", [value]).fetchone()[0]
            expect(got == want, f"{ty}: {got!r} != {want!r}")


@check
def psycopg_binary_results(t):
    with psycopg_connect(t, autocommit=True) as c:
        row = c.cursor(binary=True).execute(
            'SELECT "ITEM", "N", "N"::float8 / 4, "N"::bigint * 1000000000 FROM "STOCK" WHERE "ITEM" = %s', ["apple"]
        ).fetchone()
        expect(row == ("apple", 10, 2.5, 10_000_000_000), row)


@check
def psycopg_query_params(t):
    with psycopg_connect(t, autocommit=True) as c:
        rows = c.execute('SELECT "ID", "ITEM" FROM "ORDERS" WHERE "QTY" > %s ORDER BY "ID" LIMIT %s', [3, 5]).fetchall()
        expect(rows == [(2, "pear"), (3, "fig, dried")], rows)


@check
def psycopg_named_cursor(t):
    with psycopg_connect(t) as c:
        with c.cursor(name="orders_cursor") as cur:
            cur.execute('SELECT "ID" FROM "ORDERS" ORDER BY "ID"')
            first = cur.fetchmany(2)
            rest = cur.fetchall()
        expect(first == [(1,), (2,)] and rest == [(3,)], (first, rest))


@check
def psycopg_transaction(t):
    import psycopg
    with psycopg_connect(t) as c:
        c.execute("SELECT 1")
        expect(c.info.transaction_status == psycopg.pq.TransactionStatus.INTRANS, c.info.transaction_status)
        c.rollback()
        expect(c.info.transaction_status == psycopg.pq.TransactionStatus.IDLE, c.info.transaction_status)
        try:
            c.execute("SELECT nosuchcolumn FROM \"STOCK\"")
        except psycopg.errors.UndefinedColumn:
            pass
        expect(c.info.transaction_status == psycopg.pq.TransactionStatus.INERROR, c.info.transaction_status)
        try:
            c.execute("SELECT 1")
            raise AssertionError("a failed transaction ran a statement")
        except psycopg.errors.InFailedSqlTransaction:
            pass
        c.rollback()
        expect(c.execute("SELECT 2").fetchone() == (2,), "after rollback")


@check
def psycopg_sqlstates(t):
    import psycopg
    with psycopg_connect(t, autocommit=True) as c:
        for sql, error in [
            ("SELECT * FROM no_such_relation", psycopg.errors.UndefinedTable),
            ('SELECT nosuchcolumn FROM "STOCK"', psycopg.errors.UndefinedColumn),
            ("SELEKT 1", psycopg.errors.SyntaxError),
            ("SELECT 1 / 0", psycopg.errors.DivisionByZero),
            ("SELECT 'abc'::int", psycopg.errors.InvalidTextRepresentation),
        ]:
            try:
                c.execute(sql)
                raise AssertionError(f"{sql}: no error")
            except error:
                pass


# --- asyncpg -------------------------------------------------------------------------------------

@check
def asyncpg_typed(t):
    import asyncpg

    async def run():
        c = await asyncpg.connect(host=t.host, port=t.port, user=t.user, database=t.database)
        try:
            expect(await c.fetchval("SELECT $1::int + 1", 41) == 42, "int")
            row = await c.fetchrow("SELECT $1::text AS t, $2::bigint AS b, $3::float8 AS f, $4::bool AS x, $5::date AS d",
                                   "007", 2**40, 1.5, True, datetime.date(2024, 1, 2))
            expect(tuple(row) == ("007", 2**40, 1.5, True, datetime.date(2024, 1, 2)), row)
            st = await c.prepare('SELECT "ITEM" FROM "ORDERS" WHERE "QTY" > $1 ORDER BY "ITEM"')
            items = [r[0] for r in await st.fetch(4)]
            expect(items == ["fig, dried", "pear"], items)
            rows = await c.fetch('SELECT "ID" FROM "ORDERS" ORDER BY "ID" LIMIT $1', 2)
            expect([r[0] for r in rows] == [1, 2], rows)
            async with c.transaction():
                cur = await c.cursor('SELECT "ID" FROM "ORDERS" ORDER BY "ID"')
                expect([r[0] for r in await cur.fetch(2)] == [1, 2], "cursor")
        finally:
            await c.close()

    asyncio.run(run())


# --- SQLAlchemy and pandas (what Superset uses) --------------------------------------------------

@check
def sqlalchemy_inspector(t):
    import sqlalchemy as sa
    engine = sa.create_engine(t.url("psycopg"))
    with engine.connect() as conn:
        insp = sa.inspect(conn)
        expect(insp.get_table_names() == ["STOCK"], insp.get_table_names())
        expect(sorted(insp.get_view_names()) == ["IMPORTS", "ORDERS"], insp.get_view_names())
        cols = [(c["name"], str(c["type"]), c["nullable"]) for c in insp.get_columns("STOCK")]
        expect(cols == [("ITEM", "TEXT", False), ("N", "INTEGER", True)], cols)
        pk = insp.get_pk_constraint("STOCK")
        expect(pk["constrained_columns"] == ["ITEM"] and pk["name"] == "STOCK_pkey", pk)
        expect([c["name"] for c in insp.get_columns("ORDERS")] == ["ID", "ITEM", "QTY"], "view columns")
    engine.dispose()


@check
def pandas_read_sql(t):
    import pandas as pd
    import sqlalchemy as sa
    engine = sa.create_engine(t.url("psycopg"))
    with engine.connect() as conn:
        df = pd.read_sql(sa.text('SELECT "ITEM", sum("QTY") AS "total" FROM "ORDERS" GROUP BY "ITEM" ORDER BY "ITEM"'), conn)
    engine.dispose()
    expect(list(df["ITEM"]) == ["apple", "fig, dried", "pear"] and list(df["total"]) == [3, 7, 5], df)


# --- pgcli ---------------------------------------------------------------------------------------

@check
def pgcli_startup_and_completion(t):
    from pgcli.pgexecute import PGExecute
    e = PGExecute(t.database, t.user, None, t.host, t.port, None)
    expect("public" in e.search_path(), e.search_path())
    expect("public" in e.schemata(), e.schemata())
    expect(("public", "STOCK") in list(e.tables()), "tables")
    expect(("public", "ORDERS") in list(e.views()), "views")
    expect(any(c[1] == "STOCK" and c[2] == "ITEM" for c in e.table_columns()), "table columns")
    expect(len(list(e.functions())) > 100, "functions")
    list(e.datatypes())
    list(e.foreignkeys())
    expect(t.database in e.databases(), e.databases())
    results = list(e.run("show time zone"))
    expect(results and list(results[0][1])[0][0] in ("UTC", "Etc/UTC"), results)


# --- pgjdbc and node-postgres (other processes) ---------------------------------------------------

def java_classes():
    out = os.environ.get("EDDY_CLIENT_CACHE", os.path.expanduser("~/.cache/eddy-clients"))
    classes = os.path.join(out, "java")
    source = os.path.join(HERE, "JdbcChecks.java")
    target = os.path.join(classes, "JdbcChecks.class")
    if not os.path.exists(target) or os.path.getmtime(target) < os.path.getmtime(source):
        os.makedirs(classes, exist_ok=True)
        subprocess.run(["javac", "-d", classes, "-cp", jdbc_jar(), source], check=True, capture_output=True)
    return classes


def jdbc_jar():
    return os.environ.get("EDDY_JDBC_JAR", "/usr/share/java/postgresql.jar")


@check
def pgjdbc_metadata_and_statements(t):
    cp = f"{jdbc_jar()}:{java_classes()}"
    r = subprocess.run(["java", "-cp", cp, "JdbcChecks", t.host, str(t.port), t.database, t.user],
                       capture_output=True, text=True, timeout=120)
    expect(r.returncode == 0, r.stdout + r.stderr)


@check
def node_postgres(t):
    modules = os.environ.get("EDDY_NODE_MODULES", os.path.expanduser("~/.cache/eddy-clients/node/node_modules"))
    r = subprocess.run(["node", os.path.join(HERE, "node_checks.js"), t.host, str(t.port), t.database, t.user],
                       capture_output=True, text=True, timeout=60, env={**os.environ, "NODE_PATH": modules})
    expect(r.returncode == 0, r.stdout + r.stderr)


# --- BI tools' queries ---------------------------------------------------------------------------

def tool_statements():
    tools, tool = [], None
    statement = []
    for line in open(os.path.join(HERE, "tool_queries.sql")):
        m = re.match(r"--\s*tool:\s*(\S+)", line)
        if m:
            tool = m.group(1)
            continue
        if line.startswith("--") or not line.strip():
            continue
        statement.append(line.rstrip("\n"))
        if line.rstrip().endswith(";"):
            tools.append((tool, "\n".join(statement)))
            statement = []
    return tools


def tool_check(tool):
    def run(t):
        with psycopg_connect(t, autocommit=True) as c:
            for name, sql in tool_statements():
                if name != tool:
                    continue
                try:
                    cur = c.execute(sql)
                    if cur.description is not None:
                        cur.fetchall()
                except Exception as e:
                    raise AssertionError(f"{sql}\n-> {e}")
    run.__name__ = f"tool_{tool}"
    return run


for _tool in sorted({name for name, _ in tool_statements()}):
    check(tool_check(_tool))


# --- runner --------------------------------------------------------------------------------------

def differences():
    known = {}
    path = os.path.join(HERE, "differences.txt")
    for line in open(path) if os.path.exists(path) else []:
        if line.strip() and not line.startswith("#"):
            name, _, reason = line.partition(":")
            known[name.strip()] = reason.strip()
    return known


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--target", action="append", required=True)
    parser.add_argument("--only")
    args = parser.parse_args()
    targets = [Target(s) for s in args.target]
    known = differences()
    results = {}
    for fn in CHECKS:
        if args.only and not re.search(args.only, fn.__name__):
            continue
        for t in targets:
            try:
                fn(t)
                results[(fn.__name__, t.name)] = None
            except Exception as e:
                detail = "".join(traceback.format_exception_only(type(e), e)).strip()
                results[(fn.__name__, t.name)] = detail
    names = [fn.__name__ for fn in CHECKS if not args.only or re.search(args.only, fn.__name__)]
    width = max(len(n) for n in names) + 2
    print("check".ljust(width) + "".join(t.name.ljust(12) for t in targets))
    for n in names:
        cells = "".join(("pass" if results[(n, t.name)] is None else "FAIL").ljust(12) for t in targets)
        note = f"  (known difference: {known[n]})" if n in known else ""
        print(n.ljust(width) + cells + note)
    control, subject = targets[0], targets[-1]
    broken = [n for n in names if results[(n, control.name)] is not None]
    regressions = [n for n in names if results[(n, control.name)] is None and results[(n, subject.name)] is not None
                   and n not in known]
    for n in names:
        for t in targets:
            if results[(n, t.name)] is not None:
                print(f"\n--- {n} on {t.name}:\n{results[(n, t.name)]}")
    passed = {t.name: sum(results[(n, t.name)] is None for n in names) for t in targets}
    summary = ", ".join(f"{name} {count}/{len(names)}" for name, count in passed.items())
    print(f"\nclient checks: {summary} passed; broken checks (failing on {control.name}): {len(broken)};"
          f" failing on {subject.name} only: {len(regressions)}")
    sys.exit(1 if broken or regressions else 0)


if __name__ == "__main__":
    main()
