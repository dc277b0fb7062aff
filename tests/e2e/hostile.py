#!/usr/bin/env python3
"""Hostile and careless input against a running eddy-server (issue 14).

Each case opens its own connection and sends, over the Postgres protocol written by hand here (so
that malformed messages can be sent), an input that once crashed, stalled or desynchronised the
server, or more of the same kind. Meanwhile a watcher connection runs `SELECT 1` without pause and
a push query stays open; the server's RSS is sampled.

A case passes when the server answers the sending client with an ErrorResponse carrying the
expected SQLSTATE (or the expected rows), keeps answering the watcher within the stall bound, and
keeps running. The summary prints sent / refused with a clear error / answered / crashes / stalls /
wrong answers, and the exit status is non-zero unless every case passed.

Usage: hostile.py PORT SERVER_PID [--stall-ms N] [--rss-mib N]
"""

import multiprocessing
import socket
import struct
import sys
import threading
import time

HOST = "127.0.0.1"


class Conn:
    """A protocol-3 connection: startup, then raw messages."""

    def __init__(self, port, timeout=60.0):
        self.sock = socket.create_connection((HOST, port), timeout=timeout)
        self.buf = b""
        params = b"user\0hostile\0database\0eddy\0\0"
        self.sock.sendall(struct.pack("!ii", 8 + len(params), 196608) + params)
        self.until_ready()

    def send(self, kind, body):
        self.sock.sendall(kind + struct.pack("!i", 4 + len(body)) + body)

    def raw(self, data):
        self.sock.sendall(data)

    def message(self):
        """The next backend message (kind, body), or None when the server closed."""
        while len(self.buf) < 5 or len(self.buf) < 1 + struct.unpack("!i", self.buf[1:5])[0]:
            data = self.sock.recv(1 << 20)
            if not data:
                return None
            self.buf += data
        n = struct.unpack("!i", self.buf[1:5])[0]
        kind, body, self.buf = self.buf[:1], self.buf[5 : 1 + n], self.buf[1 + n :]
        return kind, body

    def until_ready(self):
        """Messages up to ReadyForQuery (or the server closing): (errors, rows, closed)."""
        errors, rows = [], []
        while True:
            m = self.message()
            if m is None:
                return errors, rows, True
            kind, body = m
            if kind == b"E":
                fields = {f[:1]: f[1:].decode("utf-8", "replace") for f in body.split(b"\0") if f}
                errors.append((fields.get(b"C", ""), fields.get(b"M", "")))
                if fields.get(b"S") == "FATAL":
                    return errors, rows, True
            elif kind == b"D":
                count = struct.unpack("!h", body[:2])[0]
                row, at = [], 2
                for _ in range(count):
                    n = struct.unpack("!i", body[at : at + 4])[0]
                    at += 4
                    row.append(None if n < 0 else body[at : at + n].decode())
                    at += max(n, 0)
                rows.append(row)
            elif kind == b"Z":
                return errors, rows, False

    def query(self, text):
        self.send(b"Q", text.encode() + b"\0")
        return self.until_ready()

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def cstr(s):
    return s.encode() + b"\0"


def watch(port, worst, stop, failed):
    """The watcher's process: SELECT 1 without pause; the slowest answer goes to `worst` (seconds).
    A process of its own, so that what the cases do in this one (building an 80 MiB message) never
    delays it."""
    try:
        conn = Conn(port, timeout=30)
        while not stop.value:
            started = time.monotonic()
            errors, rows, closed = conn.query("SELECT 1")
            if closed or errors or rows != [["1"]]:
                failed.value = 1
                return
            took = time.monotonic() - started
            with worst.get_lock():
                worst.value = max(worst.value, took)
            time.sleep(0.005)
    except OSError:
        failed.value = 1


class Watcher:
    """Runs SELECT 1 without pause in another process; records the slowest answer of each case."""

    def __init__(self, port):
        self.worst_s = multiprocessing.Value("d", 0.0)
        self.stop_flag = multiprocessing.Value("i", 0)
        self.failed_flag = multiprocessing.Value("i", 0)
        self.process = multiprocessing.Process(
            target=watch, args=(port, self.worst_s, self.stop_flag, self.failed_flag), daemon=True
        )

    def start(self):
        self.process.start()

    @property
    def failed(self):
        return "the watcher's SELECT 1 failed or timed out" if self.failed_flag.value else None

    @property
    def stop(self):
        return bool(self.stop_flag.value)

    @stop.setter
    def stop(self, value):
        self.stop_flag.value = int(value)

    def take_worst(self):
        with self.worst_s.get_lock():
            worst, self.worst_s.value = self.worst_s.value, 0.0
        return worst


def rss_mib(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        return None
    return 0


def alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split()[2] not in ("Z", "X")
    except OSError:
        return False


# ---- the cases: each returns None when the answer is right, else what was wrong --------------


def expect_error(result, *codes):
    errors, rows, _closed = result
    if not errors:
        return f"expected an error {codes}, got rows {rows[:3]}"
    code, message = errors[0]
    if codes and code not in codes:
        return f"expected SQLSTATE {'/'.join(codes)}, got {code}: {message[:200]}"
    return None


def expect_rows(result, rows):
    errors, got, _ = result
    if errors:
        return f"expected rows, got {errors[0][0]}: {errors[0][1][:200]}"
    if got != rows:
        return f"expected {rows}, got {got[:3]}"
    return None


def case_nul_in_query(port):
    c = Conn(port)
    hidden = b"Q" + struct.pack("!i", 4 + 9) + b"SELECT 2\0"
    c.send(b"Q", b"SELECT 1\0" + hidden)
    result = c.until_ready()
    return expect_error(result, "08P01") or (None if result[2] else "the connection stayed open")


def case_startup_without_user(port):
    sock = socket.create_connection((HOST, port), timeout=60.0)
    params = b"database\0eddy\0\0"
    sock.sendall(struct.pack("!ii", 8 + len(params), 196608) + params)
    c = Conn.__new__(Conn)
    c.sock, c.buf = sock, b""
    return expect_error(c.until_ready(), "28000")


def case_short_length(port):
    c = Conn(port)
    c.raw(b"Q" + struct.pack("!i", 2) + b"xxxxxxxx")
    return expect_error(c.until_ready(), "08P01")


def case_negative_length(port):
    c = Conn(port)
    c.raw(b"Q" + struct.pack("!i", -5) + b"x" * 16)
    return expect_error(c.until_ready(), "08P01")


def case_huge_length_header(port):
    # A 1 GB Query announced; only its header is sent: refused from the header, nothing buffered.
    c = Conn(port)
    c.raw(b"Q" + struct.pack("!i", (1 << 30) - 2) + b"SELECT ")
    return expect_error(c.until_ready(), "08P01", "54000")


def case_big_query_over_limit(port):
    # A real 80 MiB statement: refused before its body is buffered (limit: --max-message-size).
    c = Conn(port)
    body = b"SELECT '" + b"x" * (80 << 20) + b"'\0"
    try:
        c.send(b"Q", body)
    except OSError:
        pass  # the server closed while the body was still being sent: refused
    try:
        return expect_error(c.until_ready(), "08P01", "54000")
    except OSError:
        return None


def case_truncated_bind(port):
    c = Conn(port)
    c.send(b"P", cstr("") + cstr("SELECT $1::int") + struct.pack("!h", 0))
    c.send(b"B", cstr("") + cstr("") + struct.pack("!hh", 0, 5))  # says 5 parameters, sends none
    c.send(b"S", b"")
    return expect_error(c.until_ready(), "08P01")


def case_parse_type_count_lies(port):
    c = Conn(port)
    c.send(b"P", cstr("") + cstr("SELECT 1") + struct.pack("!h", 30000) + struct.pack("!I", 23))
    c.send(b"S", b"")
    return expect_error(c.until_ready(), "08P01")


def case_garbage_message_type(port):
    c = Conn(port)
    c.raw(b"\xff" + struct.pack("!i", 8) + b"abcd")
    result = c.until_ready()
    return None if result[2] else "the connection stayed open after an unknown message"


def case_huge_parameter_number(port):
    # asyncpg's prepare() sends Parse + Describe of what the user wrote.
    c = Conn(port)
    c.send(b"P", cstr("") + cstr("SELECT $99999999999") + struct.pack("!h", 0))
    c.send(b"D", b"S" + cstr(""))
    c.send(b"S", b"")
    return expect_error(c.until_ready(), "42P02", "54000", "08P01", "42601")


def case_parameter_65536(port):
    c = Conn(port)
    c.send(b"P", cstr("") + cstr("SELECT $65536") + struct.pack("!h", 0))
    c.send(b"D", b"S" + cstr(""))
    c.send(b"S", b"")
    return expect_error(c.until_ready(), "42P02", "54000", "08P01")


def chain(n, op, term="1"):
    return f" {op} ".join([term] * n)


def case_plus_chain_900(port):
    # The SQL engine (DataFusion) plans arithmetic chains up to limits::SQL_ENGINE_MAX_DEPTH.
    return expect_rows(Conn(port).query("SELECT " + chain(900, "+")), [["900"]])


def case_plus_chain_10k_sql_engine(port):
    return expect_error(Conn(port).query("SELECT " + chain(10_000, "+")), "54001")


def case_or_chain_10k(port):
    where = " OR ".join(f"1 = {i}" for i in range(10_000))
    return expect_rows(Conn(port).query(f"SELECT 7 WHERE {where}"), [["7"]])


def case_plus_chain_over_limit(port):
    return expect_error(Conn(port).query("SELECT " + chain(200_000, "+")), "54001")


def case_ksql_plus_chain_at_limit(port):
    # The deepest an expression gets under limits::MAX_OPERATORS: planned and run, or refused.
    c = Conn(port)
    result = c.query(f"SELECT {chain(29_000, '+', 'ID')} AS S FROM HOSTILE_T WHERE ID = 1")
    return None if result[0] and result[0][0][0] == "54001" else expect_rows(result, [["29000"]])


def case_ksql_plus_chain(port):
    # Eddy's own dialect: a pull query over a stream, and a push query's planner.
    c = Conn(port)
    expr = chain(10_000, "+", "ID")
    return expect_rows(c.query(f"SELECT {expr} AS S FROM HOSTILE_T WHERE ID = 1"), [["10000"]])


def case_ksql_or_chain(port):
    c = Conn(port)
    where = " OR ".join(f"V = 'x{i}'" for i in range(10_000))
    return expect_rows(c.query(f"SELECT ID FROM HOSTILE_T WHERE ID = 1 AND ({where} OR V = 'one')"), [["1"]])


def case_nested_parens(port):
    return expect_error(Conn(port).query("SELECT " + "(" * 50_000 + "1" + ")" * 50_000), "54001")


def case_nested_array_type(port):
    ty = "ARRAY<" * 5000 + "INT" + ">" * 5000
    return expect_error(
        Conn(port).query(f"CREATE STREAM deep_t (a {ty}) WITH (KAFKA_TOPIC='deep_t', VALUE_FORMAT='JSON', PARTITIONS=1)"),
        "54001",
    )


def case_nested_struct_type(port):
    ty = "STRUCT<a " * 5000 + "INT" + ">" * 5000
    return expect_error(
        Conn(port).query(f"CREATE STREAM deep_s (a {ty}) WITH (KAFKA_TOPIC='deep_s', VALUE_FORMAT='JSON', PARTITIONS=1)"),
        "54001",
    )


def case_arrow_chain(port):
    path = "->A" * 5000
    return expect_error(Conn(port).query(f"SELECT V{path} FROM HOSTILE_T WHERE ID = 1"), "42703", "42804", "54001", "42601")


def case_subscript_chain(port):
    path = "[1]" * 5000
    return expect_error(Conn(port).query(f"SELECT V{path} FROM HOSTILE_T WHERE ID = 1"), "42804", "54001", "42601", "42883")


def case_huge_partitions(port):
    return expect_error(
        Conn(port).query("CREATE STREAM parts (a INT) WITH (KAFKA_TOPIC='parts', VALUE_FORMAT='JSON', PARTITIONS=2000000000)"),
        "54000",
        "22023",
    )


def case_huge_replicas(port):
    return expect_error(
        Conn(port).query("CREATE STREAM reps (a INT) WITH (KAFKA_TOPIC='reps', VALUE_FORMAT='JSON', PARTITIONS=1, REPLICAS=40000)"),
        "54000",
        "22023",
    )


def case_many_statements(port):
    # 100,000 statements in one Query message: refused, or run without stalling the others.
    text = "SELECT 1;" * 100_000
    result = Conn(port).query(text)
    errors, rows, _ = result
    if errors:
        return expect_error(result, "54000")
    return None if len(rows) == 100_000 else f"{len(rows)} rows for 100,000 statements"


def case_hopping_window_bomb(port):
    c = Conn(port)
    return expect_error(
        c.query(
            "CREATE TABLE hop_bomb AS SELECT ID, COUNT(*) AS N FROM HOSTILE_S "
            "WINDOW HOPPING (SIZE 1 DAY, ADVANCE BY 1 MILLISECOND) GROUP BY ID"
        ),
        "54000",
    )


def case_lpad_bomb(port):
    # Refused at once; a function's failure is a NULL in ksqlDB's semantics, or an error.
    result = Conn(port).query("SELECT LPAD('a', 2000000000, 'b') FROM HOSTILE_T WHERE ID = 1")
    return None if result[1] == [[None]] else expect_error(result, "54000", "22023")


def case_repeat_bomb_sql(port):
    return expect_error(Conn(port).query("SELECT repeat('ab', 2000000000)"), "54000")


def case_repeat_bomb_under_i32(port):
    # Two gigabytes asked for within the argument's type: refused before anything is allocated.
    return expect_error(Conn(port).query("SELECT length(repeat('ab', 1000000000))"), "54000")


def case_series_bombs_sql(port):
    c = Conn(port)
    for sql in ("SELECT cardinality(array_repeat(1, 100000000))", "SELECT cardinality(range(1, 10000000000))",
                "SELECT length(lpad('x', 100000000))"):
        wrong = expect_error(c.query(sql), "54000")
        if wrong:
            return f"{sql}: {wrong}"
    return None


def case_aggregate_memory_bomb_sql(port):
    # A query's operators draw on a per-session memory pool (1 GiB): a 2 GB string_agg is
    # refused with 53200 instead of growing the server.
    result = Conn(port).query("SELECT length(string_agg(repeat('x', 1000), ',')) FROM generate_series(1, 2000000) t(x)")
    return expect_error(result, "53200")


def case_result_bomb_sql(port):
    # A result is held whole before it is sent: over 1 GiB it is refused, not collected.
    result = Conn(port).query("SELECT repeat('x', 1000) FROM generate_series(1, 2000000)")
    return expect_error(result, "54000")


def case_nested_function_calls(port):
    # sqlparser parsed each nesting level twice (2^depth): 40 levels are instant now.
    return expect_rows(Conn(port).query("SELECT " + "abs(" * 40 + "-1" + ")" * 40), [["1"]])


def case_invalid_utf8(port):
    c = Conn(port)
    c.send(b"Q", b"SELECT '\xff\xfe'\0")
    return expect_error(c.until_ready(), "22021")


def case_infinity_text(port):
    return expect_rows(Conn(port).query("SELECT 'Infinity'::float8, '-Infinity'::float8"), [["Infinity", "-Infinity"]])


def case_insert_over_message_size(port):
    c = Conn(port)
    big = "x" * 1_500_000
    return expect_error(c.query(f"INSERT INTO HOSTILE_T (ID, V) VALUES (9, '{big}')"), "54000")


def case_division_by_zero_pull(port):
    # ksqlDB's answer: the failed expression is NULL (and logged), the row is kept.
    return expect_rows(Conn(port).query("SELECT ID / 0 FROM HOSTILE_T WHERE ID = 1"), [[None]])


def case_division_by_zero_sql(port):
    return expect_error(Conn(port).query("SELECT 1 / 0"), "22012")


def case_bad_cast_sql(port):
    return expect_error(Conn(port).query("SELECT CAST('abc' AS INT)"), "22P02")


def case_text_params_not_inlined(port):
    c = Conn(port)
    c.send(b"P", cstr("") + cstr("SELECT V FROM HOSTILE_T WHERE V = $1") + struct.pack("!h", 0))
    for value in (b"NaN", b"inf", b"1e5"):
        c.send(b"B", cstr("") + cstr("") + struct.pack("!hhi", 0, 1, len(value)) + value + struct.pack("!h", 0))
        c.send(b"E", cstr("") + struct.pack("!i", 0))
    c.send(b"S", b"")
    return expect_rows(c.until_ready(), [])


def case_push_queries_per_session(port):
    # Each push query holds a consumer: a session runs at most 50 at once (53400, ksqlDB's
    # wording); closing them gives the slots back.
    c = Conn(port)
    c.query("BEGIN")
    for i in range(50):
        errors, _, _ = c.query(f"DECLARE c{i} CURSOR FOR SELECT * FROM HOSTILE_T EMIT CHANGES")
        if errors:
            return f"cursor {i} refused: {errors[0]}"
    wrong = expect_error(c.query("DECLARE c50 CURSOR FOR SELECT * FROM HOSTILE_T EMIT CHANGES"), "53400")
    if wrong:
        return wrong
    c.query("ROLLBACK")
    c.query("BEGIN")
    errors, _, _ = c.query("DECLARE again CURSOR FOR SELECT * FROM HOSTILE_T EMIT CHANGES")
    c.query("ROLLBACK")
    return f"slots not given back: {errors[0]}" if errors else None


def in_list(n):
    return ", ".join(str(i) for i in range(n))


def case_in_list_10k_sql(port):
    # BI tools filter with long IN lists: 10,000 values are planned and answered.
    return expect_rows(Conn(port).query(f"SELECT count(*) FROM (VALUES (7)) t(x) WHERE x IN ({in_list(10_000)})"), [["1"]])


def case_in_list_over_limit_sql(port):
    return expect_error(Conn(port).query(f"SELECT count(*) FROM pg_class WHERE oid IN ({in_list(20_001)})"), "54000")


def case_in_list_over_limit_pull(port):
    return expect_error(Conn(port).query(f"SELECT * FROM HOSTILE_T WHERE ID IN ({in_list(20_001)})"), "54000")


def case_array_10k_sql(port):
    # A long array literal is planned off the connection workers (the watcher is not stalled).
    return expect_rows(Conn(port).query(f"SELECT cardinality(ARRAY[{in_list(10_000)}])"), [["10000"]])


def case_array_over_limit_sql(port):
    # Array literals are lists too: `= ANY(ARRAY[...])` is how drivers send IN lists.
    return expect_error(Conn(port).query(f"SELECT 1 = ANY(ARRAY[{in_list(20_001)}])"), "54000")


def case_limits_listed(port):
    # Every limit is listed with its value in SHOW PROPERTIES.
    errors, rows, _ = Conn(port).query("SHOW PROPERTIES")
    listed = {r[0]: r[2] for r in rows}
    if errors:
        return f"SHOW PROPERTIES failed: {errors}"
    missing = [n for n in ("eddy.limit.message.bytes", "eddy.limit.statement.operators", "eddy.limit.topic.partitions",
                           "eddy.limit.push.queries", "eddy.limit.session.push.queries", "eddy.limit.query.memory.bytes",
                           "eddy.limit.statement.list.values", "eddy.limit.pull.result.rows",
                           "eddy.limit.pull.result.bytes", "eddy.limit.pull.scan.bytes", "eddy.limit.connections")
               if n not in listed]
    return f"not listed: {missing}" if missing else None


CASES = [
    case_limits_listed,
    case_nul_in_query,
    case_startup_without_user,
    case_short_length,
    case_negative_length,
    case_huge_length_header,
    case_big_query_over_limit,
    case_truncated_bind,
    case_parse_type_count_lies,
    case_garbage_message_type,
    case_huge_parameter_number,
    case_parameter_65536,
    case_plus_chain_900,
    case_plus_chain_10k_sql_engine,
    case_or_chain_10k,
    case_plus_chain_over_limit,
    case_ksql_plus_chain,
    case_ksql_plus_chain_at_limit,
    case_ksql_or_chain,
    case_nested_parens,
    case_nested_array_type,
    case_nested_struct_type,
    case_arrow_chain,
    case_subscript_chain,
    case_huge_partitions,
    case_huge_replicas,
    case_many_statements,
    case_hopping_window_bomb,
    case_lpad_bomb,
    case_repeat_bomb_sql,
    case_repeat_bomb_under_i32,
    case_series_bombs_sql,
    case_aggregate_memory_bomb_sql,
    case_result_bomb_sql,
    case_nested_function_calls,
    case_invalid_utf8,
    case_infinity_text,
    case_insert_over_message_size,
    case_division_by_zero_pull,
    case_division_by_zero_sql,
    case_bad_cast_sql,
    case_text_params_not_inlined,
    case_push_queries_per_session,
    case_in_list_10k_sql,
    case_in_list_over_limit_sql,
    case_in_list_over_limit_pull,
    case_array_10k_sql,
    case_array_over_limit_sql,
]


def setup(port):
    c = Conn(port)
    for sql in (
        "CREATE TABLE HOSTILE_T (ID INT PRIMARY KEY, V STRING) WITH (KAFKA_TOPIC='hostile_t', VALUE_FORMAT='JSON', PARTITIONS=1)",
        "CREATE STREAM HOSTILE_S (ID INT KEY, V STRING) WITH (KAFKA_TOPIC='hostile_s', VALUE_FORMAT='JSON', PARTITIONS=1)",
        "INSERT INTO HOSTILE_T (ID, V) VALUES (1, 'one')",
    ):
        errors, _, _ = c.query(sql)
        if errors:
            sys.exit(f"setup failed: {sql}: {errors}")
    # The table's first pull query waits for its view: done here, not inside a measured case.
    errors, rows, _ = c.query("SELECT V FROM HOSTILE_T WHERE ID = 1")
    if errors or rows != [["one"]]:
        sys.exit(f"setup: the table does not answer: {errors} {rows}")
    c.close()


def main():
    args = sys.argv[1:]
    port, pid = int(args[0]), int(args[1])
    stall_ms = int(args[args.index("--stall-ms") + 1]) if "--stall-ms" in args else 100
    rss_bound = float(args[args.index("--rss-mib") + 1]) if "--rss-mib" in args else 5120
    only = args[args.index("--only") + 1] if "--only" in args else None
    setup(port)
    push = Conn(port)
    push.send(b"Q", b"SELECT * FROM HOSTILE_S EMIT CHANGES\0")
    watcher = Watcher(port)
    watcher.start()
    peak = 0.0
    counts = {"sent": 0, "refused": 0, "answered": 0, "crashes": 0, "stalls": 0, "wrong": 0}
    for case in CASES:
        if only and only not in case.__name__:
            continue
        name = case.__name__[len("case_") :]
        counts["sent"] += 1
        watcher.take_worst()
        stop_sampling = threading.Event()

        def sample():
            nonlocal peak
            while not stop_sampling.is_set():
                peak = max(peak, rss_mib(pid) or 0)
                time.sleep(0.02)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        started = time.monotonic()
        try:
            wrong = case(port)
        except (OSError, struct.error) as e:
            wrong = f"client error: {e!r}"
        stop_sampling.set()
        sampler.join()
        took = time.monotonic() - started
        worst = watcher.take_worst() * 1000
        note = ""
        if worst > stall_ms and alive(pid) and not watcher.failed:
            # A stall comes from work done on a connection worker's turn, which every run of the
            # case repeats; a slow SELECT 1 that a second run does not see was the machine's noise
            # (another process on a loaded 2-core runner), reported but not counted.
            try:
                case(port)
            except (OSError, struct.error):
                pass
            again = watcher.take_worst() * 1000
            if again <= stall_ms:
                note = f"(SELECT 1 took {worst:.0f} ms once, {again:.0f} ms on a second run)"
                worst = again
        verdict = "ok"
        if not alive(pid):
            counts["crashes"] += 1
            verdict = "CRASH"
        elif watcher.failed:
            counts["stalls"] += 1
            verdict = f"STALL ({watcher.failed})"
        elif worst > stall_ms:
            counts["stalls"] += 1
            verdict = f"STALL (SELECT 1 took {worst:.0f} ms)"
        elif wrong:
            counts["wrong"] += 1
            verdict = f"WRONG ({wrong})"
        elif case.__doc__ is None:
            counts["refused" if "expect_error" in case.__code__.co_names else "answered"] += 1
        if watcher.failed and alive(pid):
            watcher.stop = True
            try:
                watcher = Watcher(port)
                watcher.start()
            except OSError as e:
                print(f"the watcher cannot reconnect: {e}")
                counts["crashes"] += 1
                break
        print(f"{verdict[:5]:5} {name:32} {took * 1000:8.0f} ms  watcher worst {worst:5.0f} ms  {verdict if verdict != 'ok' else note}")
        sys.stdout.flush()
        if verdict == "CRASH":
            break
    watcher.stop = True
    pushed_ok = True
    try:
        push.sock.settimeout(2)
        push.send(b"X", b"")
    except OSError:
        pushed_ok = False
    print(
        f"\nhostile input: sent {counts['sent']}, refused with a clear error {counts['refused']}, "
        f"answered {counts['answered']}, crashes {counts['crashes']}, stalls over {stall_ms} ms {counts['stalls']}, "
        f"wrong answers {counts['wrong']}; peak RSS {peak:.0f} MiB (bound {rss_bound:.0f})"
        + ("" if pushed_ok else "; the push query's connection was lost")
    )
    bad = counts["crashes"] + counts["stalls"] + counts["wrong"] + (peak > rss_bound) + (not pushed_ok)
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
