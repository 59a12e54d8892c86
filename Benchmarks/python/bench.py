"""stave from Python against stave in-process and DuckDB (issue 20).

Per scale, in alternating rounds, each engine in its own process that opens
once, warms up and times `inner` runs (the median of those is one round's
value; the table shows the median of the rounds):

  profile   stave-timer (Swift, Queries.profile in-process: the anchor the
            target is stated against), Store.profile() into a pyarrow Table,
            the same into a Polars DataFrame, DuckDB's profile SQL over its
            native table into Arrow (.arrow()) and into Polars (.pl()).
  scan      Store.scan() of all six columns and of two, read batch by batch
            (GB/s: the Arrow bytes handed over per second), DuckDB's
            `select *` over its native table as Arrow batches, and DuckDB SQL
            over Store.scan().

Answers are checked first: Store.profile() equals DuckDB's profile, and the
scan's row count and mobile sum equal DuckDB's.
"""

import argparse
import datetime
import json
import os
import platform
import re
import shutil
import subprocess
import sys

ROOT = os.environ["STAVE_ROOT"]
sys.path.insert(0, os.path.join(ROOT, "Benchmarks", "compare"))
import harness  # noqa: E402  (its runners, SQL and data conventions)

STAVE, PY = harness.STAVE, harness.PY

PRELUDE = harness.TIMER_PRELUDE + """
import json, stave, duckdb, polars as pl, pyarrow as pa
def drain(reader):
    n = 0
    for batch in reader:
        n += batch.nbytes
    return n
"""


def timer(code, inner):
    return harness.py(PRELUDE + code.replace("INNER", str(inner)))


def value(cmd):
    return harness.timer_value(cmd)


def check(store, db, rows):
    code = PRELUDE + f"""
s = stave.open({store!r}, threads=2)
c = duckdb.connect({db!r}, read_only=True)
got = s.profile()
want = c.sql({harness.query_sql('profile', 'tracks')!r}).to_arrow_table()
want = want.sort_by("customer_id")
assert got.num_rows == want.num_rows, (got.num_rows, want.num_rows)
for name in got.column_names:
    assert got.column(name).equals(want.column(name).cast(pa.int64())), name
scan = s.scan(columns=["mobile"])
duckdb.sql("SET enable_progress_bar=false")
mine = duckdb.sql("select count(*), sum(mobile) from scan").fetchall()
theirs = c.sql("select count(*), sum(mobile) from tracks").fetchall()
assert mine == theirs and mine[0][0] == {rows}, (mine, theirs)
print("ok")
"""
    _, out = harness.run(harness.py(code))
    if out.strip().splitlines()[-1:] != ["ok"]:
        sys.exit("answers differ: " + out)


def one_scale(rows, args, cache):
    customers = max(1, rows // 200)
    d = os.path.join(cache, f"r{rows}")
    os.makedirs(d, exist_ok=True)
    csv = os.path.join(d, "tracks.csv")
    if not os.path.exists(csv):
        harness.run([STAVE, "generate", "--rows", str(rows), "--customers", str(customers), "--seed", "42", "-o", d, "--quiet"])
    work = os.path.join(d, "python-work")
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    store, db = os.path.join(work, "music.stave"), os.path.join(work, "duck.duckdb")
    print(f"== {rows:,} events, {customers:,} customers", flush=True)
    harness.run([STAVE, "convert", csv, "-o", store, "--quiet"])
    harness.run(harness.py(harness.duck_import_code(csv, db)))
    check(store, db, rows)
    print("  answers identical", flush=True)

    inner = args.inner if rows <= 10_000_000 else max(3, args.inner // 4)
    sql = harness.query_sql("profile", "tracks")
    open_stave = f"s = stave.open({store!r}, threads=2)\n"
    open_duck = f"c = duckdb.connect({db!r}, read_only=True)\nc.sql('SET enable_progress_bar=false')\n"
    profile = {
        "stave in-process (Swift)": harness.stave_timer(store, "profile", inner),
        "Store.profile() -> pyarrow.Table": timer(open_stave + "timed(lambda: s.profile(), INNER)", max(inner, 20)),
        "Store.profile() -> Polars DataFrame": timer(open_stave + "timed(lambda: pl.from_arrow(s.profile()), INNER)", max(inner, 20)),
        "DuckDB native -> Arrow table": timer(open_duck + f"timed(lambda: c.sql({sql!r}).to_arrow_table(), INNER)", inner),
        "DuckDB native -> Polars (.pl())": timer(open_duck + f"timed(lambda: c.sql({sql!r}).pl(), INNER)", inner),
    }
    scan = {
        "Store.scan(), six columns": timer(open_stave + "timed(lambda: drain(s.scan()), INNER)", inner),
        "Store.scan(), customer_id and datetime": timer(open_stave + "timed(lambda: drain(s.scan(columns=['customer_id', 'datetime'])), INNER)", inner),
        "DuckDB native, select * as Arrow batches": timer(open_duck + "timed(lambda: drain(c.sql('select * from tracks').to_arrow_reader(1 << 20)), INNER)", inner),
        "DuckDB SQL over Store.scan(): count, sum(mobile)": timer(open_stave + "duckdb.sql('SET enable_progress_bar=false')\ndef q():\n    r = s.scan(columns=['mobile'])\n"
                                                                  "    return duckdb.sql('select count(*), sum(mobile) from r').fetchall()\n"
                                                                  "timed(q, INNER)", inner),
    }
    # The bytes each scan hands over (for GB/s).
    _, out = harness.run(harness.py(PRELUDE + open_stave + open_duck + """
print(json.dumps([drain(s.scan()), drain(s.scan(columns=['customer_id', 'datetime'])),
                  drain(c.sql('select * from tracks').to_arrow_reader(1 << 20))]))
"""))
    nbytes = json.loads(out.strip().splitlines()[-1])
    got = {k: [] for k in list(profile) + list(scan)}
    for r in range(args.rounds):
        for k, cmd in list(profile.items()) + list(scan.items()):
            got[k].append(value(cmd))
        print(f"  round {r + 1} of {args.rounds}", flush=True)
    shutil.rmtree(work, ignore_errors=True)
    med = {k: harness.median(v) for k, v in got.items()}
    return {"rows": rows, "customers": customers, "inner": inner, "rounds": args.rounds,
            "profile_ms": {k: med[k] for k in profile}, "scan_ms": {k: med[k] for k in scan},
            "scan_bytes": dict(zip(["Store.scan(), six columns", "Store.scan(), customer_id and datetime",
                                    "DuckDB native, select * as Arrow batches"], nbytes))}


def versions():
    code = ("import duckdb, polars, pyarrow, stave, sys; print(duckdb.__version__, polars.__version__, pyarrow.__version__, "
            "stave.__version__, sys.version.split()[0])")
    return dict(zip(["duckdb", "polars", "pyarrow", "stave", "python"], harness.run(harness.py(code))[1].split()))


def report(results, m, v):
    lines = ["<!-- python:begin (written by Benchmarks/python/run) -->",
             "## stave from Python (issue 20)", "",
             f"Benchmarks/python/run, {datetime.date.today().isoformat()}: {m['cores']} cores, {m['cpu']}, "
             f"{m['memory_gib']} GiB, Linux {m['kernel']}; Python {v['python']}, pyarrow {v['pyarrow']}, "
             f"Polars {v['polars']}, DuckDB {v['duckdb']}, stave {v['stave']}. Each engine in its own process, "
             "opened once and warmed up; medians of the rounds, each round the median of its runs. "
             "stave with 2 threads, DuckDB with its default (2). Targets: Store.profile() at most 1.2x "
             "stave in-process; Store.scan() at least 1 GB/s of Arrow data.", ""]
    for s in results:
        p, sc = s["profile_ms"], s["scan_ms"]
        anchor = p["stave in-process (Swift)"]
        lines += [f"### {s['rows']:,} events, {s['customers']:,} customers ({s['rounds']} rounds)", "",
                  "| profile of every customer | median ms | / stave in-process |", "|---|---:|---:|"]
        for k, ms in p.items():
            lines.append(f"| {k} | {harness.fmt_ms(ms)} | {ms / anchor:.2f}x |")
        lines += ["", "| events out | median ms | Arrow bytes | GB/s |", "|---|---:|---:|---:|"]
        for k, ms in sc.items():
            b = s["scan_bytes"].get(k)
            lines.append(f"| {k} | {harness.fmt_ms(ms)} | {b / 1e6:,.0f} MB | {b / 1e6 / ms:.2f} |" if b else
                         f"| {k} | {harness.fmt_ms(ms)} | | |")
        lines.append("")
    lines.append("<!-- python:end -->")
    return "\n".join(lines) + "\n"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, action="append", help="add a scale (events); 1M always runs")
    ap.add_argument("--quick", action="store_true", help="10,000 events, 2 rounds, report to stdout only")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--inner", type=int, default=10)
    ap.add_argument("--out", default=os.path.join(ROOT, "BENCHMARKS.md"))
    args = ap.parse_args()
    cache = os.environ.get("STAVE_BENCH_CACHE", os.path.expanduser("~/.cache/stave-bench"))
    scales = [1_000_000] + (args.rows or [])
    if args.quick:
        scales, args.rounds, args.inner = [10_000], 2, 3
    results = [one_scale(r, args, cache) for r in scales]
    text = report(results, harness.machine(), versions())
    print(text)
    if args.quick:
        return
    old = open(args.out).read() if os.path.exists(args.out) else ""
    pattern = r"<!-- python:begin.*?<!-- python:end -->\n"
    new = re.sub(pattern, lambda _: text, old, flags=re.S) if re.search(pattern, old, flags=re.S) else old + "\n" + text
    open(args.out, "w").write(new)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
