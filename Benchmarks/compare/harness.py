"""stave versus DuckDB, Polars, PyArrow and the original PySpark job.

Run through ./run, which installs everything. For each scale it:
  1. generates tracks.csv with `stave generate` (cached outside the repo);
  2. converts it with every engine (timed, peak RSS) and measures sizes;
  3. checks that every engine gives the same profile (exact) and statistics
     (1e-9 relative) before anything is timed;
  4. times each query with a warm-up and alternating rounds across engines,
     quoting medians and the ratio to stave;
  5. writes BENCHMARKS.md (not with --quick).

Each engine's query runs in its own process that opens its data once, warms
up, runs the query `INNER` times and prints the median; `ROUNDS` such
processes alternate across engines and the median of their medians is quoted.
"""
import argparse
import datetime
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

STAVE = os.environ["STAVE_BIN"]
TIMER = os.environ["STAVE_TIMER"]
ROOT = os.environ["STAVE_ROOT"]
PY = sys.executable
VENV_BIN = os.path.dirname(PY)
HERE = os.path.dirname(os.path.abspath(__file__))

PROFILE_SQL = """SELECT customer_id,
  count(DISTINCT track_id) AS unique_tracks,
  count(*) FILTER (WHERE hour(datetime) BETWEEN 5 AND 11) AS morning,
  count(*) FILTER (WHERE hour(datetime) BETWEEN 12 AND 16) AS afternoon,
  count(*) FILTER (WHERE hour(datetime) BETWEEN 17 AND 21) AS evening,
  count(*) FILTER (WHERE hour(datetime) < 5 OR hour(datetime) >= 22) AS night,
  sum(mobile)::BIGINT AS mobile_plays,
  count(*) AS plays
FROM {src} {where} GROUP BY customer_id ORDER BY customer_id"""
COLUMNS = ["unique_tracks", "morning", "afternoon", "evening", "night", "mobile_plays", "plays"]
STATS_SQL = "WITH p AS ({profile}) SELECT " + ", ".join(
    f"count(*), avg({c}), var_samp({c}), stddev_samp({c}), min({c}), max({c}), count(*) FILTER (WHERE {c} <> 0), "
    f"sum(abs({c}))::DOUBLE, sqrt(sum({c}::DOUBLE * {c}))" for c in COLUMNS) + " FROM p"
MONTH = "WHERE datetime >= TIMESTAMP '2014-11-01' AND datetime < TIMESTAMP '2014-12-01'"
ONE = "WHERE customer_id = 48"
READ_CSV = ("read_csv('{csv}', header=false, columns={{'event_id':'BIGINT','customer_id':'UINTEGER','track_id':'UINTEGER',"
            "'datetime':'TIMESTAMP','mobile':'UTINYINT','listening_zip':'VARCHAR'}})")


def run(cmd, env=None, check=True):
    """Runs a process; returns (seconds, stdout)."""
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    out, err = p.communicate()
    seconds = time.perf_counter() - t0
    if check and p.returncode != 0:
        sys.exit(f"failed ({p.returncode}): {' '.join(cmd)}\n{err.decode()[-2000:]}")
    return seconds, out.decode()


def run_rss(cmd):
    """Runs a process, returns (seconds, peak RSS MB), the peak read by GNU
    time (`/usr/bin/time -f %M`). Not os.wait4 on a child spawned from here:
    subprocess spawns with vfork, and Linux carries this interpreter's
    memory high-water mark into the child's ru_maxrss, so every engine would
    report at least this process's peak. `time` forks from its own 1 MB
    image. The time measured includes its start, under a millisecond; it
    starts after os.sync()."""
    # The previous process's written files go to disk first: otherwise their
    # writeback (hundreds of MB after a conversion) runs on the same two
    # cores during this one, and whichever engine runs next pays for it.
    os.sync()
    with tempfile.NamedTemporaryFile("r", suffix=".rss") as rss:
        t0 = time.perf_counter()
        p = subprocess.Popen(["/usr/bin/time", "-f", "%M", "-o", rss.name, *cmd],
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        _, err = p.communicate()
        seconds = time.perf_counter() - t0
        if p.returncode != 0:
            sys.exit(f"failed ({p.returncode}): {' '.join(cmd)}\n{err.decode()[-2000:]}")
        return seconds, int(rss.read().split()[-1]) / 1024


def py(code, *args):
    return [PY, "-c", code, *args]


def du(path):
    if os.path.isfile(path):
        return os.path.getsize(path)
    return sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(path) for f in fs)


def median(xs):
    return statistics.median(xs)


# ---------------------------------------------------------------- engines

def duck_import_code(csv, db):
    return (f"import duckdb,os\n"
            f"os.path.exists('{db}') and os.remove('{db}')\n"
            f"c=duckdb.connect('{db}')\n"
            f"c.execute(\"CREATE TABLE tracks AS SELECT * FROM {READ_CSV.format(csv=csv)}\")\n"
            f"c.close()")


def duck_parquet_code(csv, out):
    return (f"import duckdb\nc=duckdb.connect()\n"
            f"c.execute(\"COPY (SELECT * FROM {READ_CSV.format(csv=csv)}) TO '{out}' (FORMAT parquet, COMPRESSION zstd)\")")


def arrow_parquet_code(csv, out):
    return ("import pyarrow as pa, pyarrow.csv as pc, pyarrow.parquet as pq\n"
            "names=['event_id','customer_id','track_id','datetime','mobile','listening_zip']\n"
            "types={'event_id':pa.int64(),'customer_id':pa.uint32(),'track_id':pa.uint32(),"
            "'datetime':pa.timestamp('s'),'mobile':pa.uint8(),'listening_zip':pa.string()}\n"
            f"t=pc.read_csv('{csv}', read_options=pc.ReadOptions(column_names=names),"
            "convert_options=pc.ConvertOptions(column_types=types))\n"
            f"pq.write_table(t, '{out}', compression='zstd')")


# Timer programs: open once, warm up, INNER runs, print the median ms.
TIMER_PRELUDE = """
import sys, time, statistics
def timed(f, inner):
    f()
    ts = []
    for _ in range(inner):
        t0 = time.perf_counter(); f(); ts.append((time.perf_counter() - t0) * 1000)
    print(statistics.median(ts))
"""


def duck_timer(db_or_parquet, sql_kind, inner):
    src = "tracks" if db_or_parquet.endswith(".duckdb") else f"read_parquet('{db_or_parquet}')"
    connect = f"'{db_or_parquet}', read_only=True" if db_or_parquet.endswith(".duckdb") else ""
    sql = query_sql(sql_kind, src)
    return py(TIMER_PRELUDE + f"import duckdb\nc=duckdb.connect({connect})\nc.execute('SET enable_progress_bar=false')\n"
              f"timed(lambda: c.execute({sql!r}).fetchall(), {inner})")


CUST_CSV = ("read_csv('{csv}', header=true, columns={{'CustID':'UINTEGER','Name':'VARCHAR','Gender':'UTINYINT','Address':'VARCHAR',"
            "'zip':'VARCHAR','SignDate':'VARCHAR','Status':'UTINYINT','Level':'UTINYINT','Campaign':'UTINYINT','LinkedWithApps':'UTINYINT'}})")
LEVEL_NAME = "CASE c.Level WHEN 0 THEN 'Free' WHEN 1 THEN 'Silver' WHEN 2 THEN 'Gold' ELSE 'unknown' END"
# The customer dimension in SQL: the same answers as stave breakdown / top-zips / hours.
DIM_SQL = {
    "breakdown": ("WITH p AS (" + PROFILE_SQL.format(src="tracks", where="{where}") + ") "
                  "SELECT " + LEVEL_NAME + " AS g, count(*) AS active, sum(plays)::BIGINT, "
                  + ", ".join(f"avg({c})" for c in COLUMNS) + " FROM p LEFT JOIN cust c ON p.customer_id = c.CustID GROUP BY g ORDER BY g"),
    "top_zips": ("SELECT listening_zip, count(*) AS e, count(DISTINCT customer_id), sum(mobile)::BIGINT FROM tracks {where} "
                 "GROUP BY listening_zip ORDER BY e DESC, listening_zip LIMIT 10"),
    "hours": ("SELECT " + LEVEL_NAME + " AS g, hour(t.datetime) AS h, count(*), sum(t.mobile)::BIGINT FROM tracks t "
              "LEFT JOIN cust c ON t.customer_id = c.CustID {where} GROUP BY g, h ORDER BY g, h"),
}


def duck_dim_timer(db, kind, where, inner):
    sql = DIM_SQL[kind].format(where=where)
    return py(TIMER_PRELUDE + f"import duckdb\nc=duckdb.connect('{db}', read_only=True)\nc.execute('SET enable_progress_bar=false')\n"
              f"timed(lambda: c.execute({sql!r}).fetchall(), {inner})")


def query_sql(kind, src):
    if kind == "profile":
        return PROFILE_SQL.format(src=src, where="")
    if kind == "month":
        return PROFILE_SQL.format(src=src, where=MONTH)
    if kind == "customer":
        return PROFILE_SQL.format(src=src, where=ONE)
    if kind == "stats":
        return STATS_SQL.format(profile=PROFILE_SQL.format(src=src, where=""))
    raise ValueError(kind)


POLARS_QUERY = """
import polars as pl
def q(path, kind):
    lf = pl.scan_parquet(path)
    if kind == "month":
        import datetime as d
        lf = lf.filter((pl.col("datetime") >= d.datetime(2014,11,1)) & (pl.col("datetime") < d.datetime(2014,12,1)))
    if kind == "customer":
        lf = lf.filter(pl.col("customer_id") == 48)
    h = pl.col("datetime").dt.hour()
    out = lf.group_by("customer_id").agg(
        pl.col("track_id").n_unique().alias("unique_tracks"),
        ((h >= 5) & (h < 12)).sum().alias("morning"),
        ((h >= 12) & (h < 17)).sum().alias("afternoon"),
        ((h >= 17) & (h < 22)).sum().alias("evening"),
        ((h < 5) | (h >= 22)).sum().alias("night"),
        pl.col("mobile").cast(pl.Int64).sum().alias("mobile_plays"),
        pl.len().alias("plays")).sort("customer_id")
    return out.collect()
"""


def polars_timer(parquet, kind, inner):
    return py(TIMER_PRELUDE + POLARS_QUERY + f"timed(lambda: q({parquet!r}, {kind!r}), {inner})")


# stave's in-process queries take milliseconds, where a VM's hiccups move a
# median of 3 or 5 runs by 10-20 %: its timer runs each query at least this
# many times per process (still a median; the other engines' runs take
# 10-1000x longer and keep `inner`).
STAVE_MIN_RUNS = 20


def stave_timer(store, kind, inner, threads=2):
    name = {"profile": "profile", "month": "profile_month", "stats": "stats", "customer": "customer"}.get(kind, kind)
    return [TIMER, store, "--only", name, "--runs", str(max(inner, STAVE_MIN_RUNS)), "--threads", str(threads)]


def timer_value(cmd):
    _, out = run(cmd)
    line = out.strip().splitlines()[-1]
    return json.loads(line)["median_ms"] if line.startswith("{") else float(line.split()[-1])


# ---------------------------------------------------------------- correctness

def stave_profile(store, *flags):
    _, out = run([STAVE, "profile", store, "--format", "csv", *flags])
    return [tuple(int(x) for x in line.split(",")) for line in out.strip().splitlines()[1:]]


def duck_rows(db, sql):
    code = f"import duckdb,json\nc=duckdb.connect('{db}', read_only=True)\nc.execute('SET enable_progress_bar=false')\nprint(json.dumps([[v if isinstance(v, float) else int(v) for v in r] for r in c.execute({sql!r}).fetchall()]))"
    _, out = run(py(code))
    return json.loads(out)


def close(a, b, rel=1e-9):
    return a == b or abs(a - b) <= rel * max(abs(a), abs(b))


def check_answers(s, store, db, parquet, spark_dir):
    problems = []
    for kind, flags in [("profile", []), ("month", ["--from", "2014-11-01", "--to", "2014-12-01"]), ("customer", ["--customer", "48"])]:
        mine = stave_profile(store, *flags)
        duck = [tuple(int(v) for v in r) for r in duck_rows(db, query_sql(kind, "tracks"))]
        if mine != duck:
            problems.append(f"{kind}: stave and DuckDB differ")
        code = POLARS_QUERY + f"import json\nprint(json.dumps(q({parquet!r}, {kind!r}).rows()))"
        _, out = run(py(code))
        pol = [tuple(r) for r in json.loads(out)]
        if mine != pol:
            problems.append(f"{kind}: stave and Polars differ")
        s.setdefault("checked", []).append(f"{kind}: {len(mine)} customers identical in stave, DuckDB, Polars")
    # Stats.
    _, out = run([STAVE, "stats", store, "--format", "json"])
    mine = json.loads(out)
    row = duck_rows(db, query_sql("stats", "tracks"))[0]
    fields = ["count", "mean", "variance", "stddev", "min", "max", "num_nonzeros", "norm_l1", "norm_l2"]
    for k, c in enumerate(COLUMNS):
        for f, v in zip(fields, row[k * 9:(k + 1) * 9]):
            if not close(float(mine[c][f]), float(v)):
                problems.append(f"stats {c}.{f}: stave {mine[c][f]} DuckDB {v}")
    s["checked"].append("stats: 63 values equal in stave and DuckDB (1e-9 relative)")
    if spark_dir:
        spark = [tuple(int(x) for x in l.split(",")) for l in open(spark_dir + "/live_table.csv").read().strip().splitlines()[1:]]
        mine6 = [r[:7] for r in stave_profile(store)]
        if spark != mine6:
            problems.append("profile: stave and the Spark job differ")
        agg = json.load(open(spark_dir + "/agg_table.json"))
        for k, c in enumerate(COLUMNS[:6]):
            for f in ["mean", "variance", "min", "max", "num_nonzeros", "norm_l1", "norm_l2"]:
                if not close(float(mine[c][f]), float(agg[f][k])):
                    problems.append(f"Spark colStats {c}.{f}: stave {mine[c][f]} Spark {agg[f][k]}")
        s["checked"].append(f"Spark job: {len(spark)} profiles and colStats identical to stave (1e-9 relative)")
    check_dimension(s, store, db, problems)
    if problems:
        sys.exit("ANSWERS DIFFER, nothing timed:\n" + "\n".join(problems))


def check_dimension(s, store, db, problems):
    """stave breakdown / top-zips / hours against DuckDB SQL over the same files."""
    for where, flags in [("", []), (MONTH, ["--from", "2014-11-01", "--to", "2014-12-01"])]:
        _, out = run([STAVE, "breakdown", store, "--by", "level", "--format", "json", *flags])
        mine = {r["level"]: r for r in json.loads(out)}
        for r in duck_rows_text(db, DIM_SQL["breakdown"].format(where=where.replace("datetime", "tracks.datetime"))):
            m = mine.get(r[0])
            if m is None or m["active_customers"] != r[1] or m["plays"] != r[2] or \
                    not all(close(m["avg_" + c], r[3 + k]) for k, c in enumerate(COLUMNS)):
                problems.append(f"breakdown {r[0]} {where}: stave {m} DuckDB {r}")
        _, out = run([STAVE, "top-zips", store, "--format", "csv", *flags])
        mine = [tuple(l.split(",")[:4]) for l in out.strip().splitlines()[1:]]
        duck = [(r[0], str(r[1]), str(r[2]), str(r[3])) for r in duck_rows_text(db, DIM_SQL["top_zips"].format(where=where))]
        if mine != duck:
            problems.append(f"top zips {where}: stave {mine[:3]} DuckDB {duck[:3]}")
        _, out = run([STAVE, "hours", store, "--by", "level", "--format", "csv", *flags])
        mine = sorted((l.split(",")[0], int(l.split(",")[1]), int(l.split(",")[3]), int(l.split(",")[4]))
                      for l in out.strip().splitlines()[1:] if l.split(",")[3] != "0")
        duck = sorted(tuple(r) for r in duck_rows_text(db, DIM_SQL["hours"].format(where=where.replace("datetime", "t.datetime"))))
        if mine != [(g, int(h), int(e), int(m)) for g, h, e, m in duck]:
            problems.append(f"hours by level {where}: stave and DuckDB differ")
    s["checked"].append("breakdown by level, top 10 zips, hours by level (full and one month): identical in stave and DuckDB")


def duck_rows_text(db, sql):
    code = f"import duckdb,json\nc=duckdb.connect('{db}', read_only=True)\nc.execute('SET enable_progress_bar=false')\nprint(json.dumps([list(r) for r in c.execute({sql!r}).fetchall()]))"
    _, out = run(py(code))
    return json.loads(out)


# ---------------------------------------------------------------- one scale

def scale(rows, args, cache):
    customers = max(1, rows // 200)
    d = os.path.join(cache, f"r{rows}")
    os.makedirs(d, exist_ok=True)
    csv = os.path.join(d, "tracks.csv")
    if not os.path.exists(csv):
        run([STAVE, "generate", "--rows", str(rows), "--customers", str(customers), "--seed", "42", "-o", d, "--quiet"])
    work = os.path.join(d, "work")
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    store, db, pq_duck, pq_arrow = [os.path.join(work, n) for n in ["music.stave", "duck.duckdb", "duck.parquet", "arrow.parquet"]]
    cli_db = os.path.join(work, "cli.duckdb")
    s = {"rows": rows, "customers": customers, "csv_bytes": os.path.getsize(csv)}
    R = args.rounds
    print(f"== {rows:,} rows", flush=True)

    # Convert: whole processes, alternating.
    convert = {
        "stave convert": lambda: run_rss([STAVE, "convert", csv, "-o", store, "--force", "--quiet"]),
        "DuckDB CSV -> native table": lambda: run_rss(py(duck_import_code(csv, db))),
        "DuckDB CSV -> Parquet (zstd)": lambda: run_rss(py(duck_parquet_code(csv, pq_duck))),
        "PyArrow CSV -> Parquet (zstd)": lambda: run_rss(py(arrow_parquet_code(csv, pq_arrow))),
    }
    results = {k: [] for k in convert}
    for r in range(R):
        for k, f in convert.items():
            results[k].append(f())
    s["convert"] = {k: {"seconds": median([x[0] for x in v]), "rss_mb": max(x[1] for x in v)} for k, v in results.items()}
    print("  convert done", flush=True)

    # The DuckDB CLI's own database (its version may not read the module's file).
    if os.path.exists(cli_db):
        os.remove(cli_db)
    run([os.path.join(VENV_BIN, "duckdb"), cli_db, "-c", f"CREATE TABLE tracks AS SELECT * FROM {READ_CSV.format(csv=csv)}"])

    # Sizes.
    sizes = {"stave store": du(store), "DuckDB database file": du(db), "Parquet zstd (DuckDB)": du(pq_duck),
             "Parquet zstd (PyArrow)": du(pq_arrow), "CSV": s["csv_bytes"]}
    for tool, ext, cmd in [("zstd -19", "zst", ["zstd", "-19", "-T2", "-q", "-c", csv]), ("xz -9", "xz", ["xz", "-9", "-T2", "-c", csv])]:
        cached = os.path.join(d, f"size.{ext}")
        if not os.path.exists(cached):
            with open(cached + ".tmp", "wb") as f:
                subprocess.run(cmd, stdout=f, check=True)
            open(cached, "w").write(str(os.path.getsize(cached + ".tmp")))
            os.remove(cached + ".tmp")
        sizes[f"CSV {tool}"] = int(open(cached).read())
    s["sizes"] = sizes

    # Parquet (issue 7): stave's store exported as Parquet, against DuckDB's
    # CSV -> Parquet (zstd) above; then Parquet back into a store, from
    # stave's file and from DuckDB's.
    pq_stave = os.path.join(work, "stave.parquet")
    pq_store = os.path.join(work, "from-parquet.stave")
    procs = {
        "stave export --format parquet": lambda: run_rss([STAVE, "export", store, "--format", "parquet", "-o", pq_stave]),
        "stave convert (stave's Parquet)": lambda: run_rss([STAVE, "convert", pq_stave, "-o", pq_store, "--force", "--quiet"]),
        "stave convert (DuckDB's Parquet)": lambda: run_rss([STAVE, "convert", pq_duck, "-o", pq_store, "--force", "--quiet"]),
    }
    got = {k: [] for k in procs}
    for r in range(R):
        for k, f in procs.items():
            got[k].append(f())
    s["parquet"] = {k: {"seconds": median([x[0] for x in v]), "rss_mb": max(x[1] for x in v)} for k, v in got.items()}
    s["sizes"]["Parquet zstd (stave export)"] = du(pq_stave)
    same = run([STAVE, "profile", pq_store, "--format", "csv"])[1] == run([STAVE, "profile", store, "--format", "csv"])[1]
    if not same:
        sys.exit("the store converted from DuckDB's Parquet gives another profile than the CSV's")
    s.setdefault("checked", []).append("a store converted from DuckDB's Parquet gives the same profile as from the CSV")
    print("  parquet done", flush=True)

    # The customer table, added after sizes and convert timings (they compare
    # the events alone): into the store, and into DuckDB's database.
    cust = os.path.join(d, "cust.csv")
    run([STAVE, "convert", "--customers", cust, "-o", store, "--quiet"])
    run(py(f"import duckdb\nc=duckdb.connect('{db}')\nc.execute(\"CREATE TABLE cust AS SELECT * FROM {CUST_CSV.format(csv=cust)}\")\nc.close()"))

    # Spark (answers first, timing from the same runs).
    spark_dir = None
    if args.spark and rows <= args.spark_max_rows:
        spark_dir = os.path.join(work, "spark")
        os.makedirs(spark_dir, exist_ok=True)
        times = []
        for r in range(args.spark_runs):
            t, _ = run([PY, os.path.join(HERE, "spark_profile_job.py"), csv, spark_dir])
            times.append(t)
        s["spark"] = {"seconds": median(times), "runs": len(times), **json.load(open(spark_dir + "/timing.json"))}
        print("  spark done", flush=True)

    # The Spark job of the "scaling out" section (spark/profile_job.py): its
    # output must be byte for byte stave's.
    if args.spark and rows <= args.spark_job_max_rows:
        job_dir = os.path.join(work, "spark-job")
        os.makedirs(job_dir, exist_ok=True)
        prof, stats = os.path.join(job_dir, "live_table.csv"), os.path.join(job_dir, "agg_table.json")
        times = []
        for r in range(args.spark_runs if rows <= 1_000_000 else 1):
            t, _ = run([PY, os.path.join(ROOT, "spark", "profile_job.py"), "--master", "local[2]", "--partitions", "8",
                        "--input", csv, "--profile", prof, "--stats", stats])
            times.append(t)
        want_prof = run([STAVE, "profile", store, "--format", "csv"])[1]
        want_stats = run([STAVE, "stats", store, "--format", "json"])[1]
        if open(prof).read() != want_prof or open(stats).read() != want_stats:
            sys.exit("spark/profile_job.py disagrees with stave")
        s.setdefault("checked", []).append("spark/profile_job.py writes stave's profile and stats byte for byte")
        stats_proc = [run([STAVE, "stats", store, "--format", "json", "-o", "/dev/null"])[0] * 1000 for _ in range(max(R, 5))]
        s["spark_job"] = {"seconds": median(times), "runs": len(times), "stave_stats_ms": median(stats_proc)}
        print("  spark job done", flush=True)

    check_answers(s, store, db, pq_duck, spark_dir)
    print("  answers identical", flush=True)

    # In-process queries, alternating rounds.
    inner = args.inner if rows <= 1_000_000 else max(3, args.inner // 2)
    tasks = {}
    for kind in ["profile", "month", "stats", "customer"]:
        engines = {"stave": stave_timer(store, kind, inner), "stave 1 thread": stave_timer(store, kind, inner, threads=1),
                   "DuckDB native": duck_timer(db, kind, inner), "DuckDB Parquet": duck_timer(pq_duck, kind, inner),
                   "Polars Parquet": polars_timer(pq_duck, kind, inner)}
        got = {k: [] for k in engines}
        for r in range(R):
            for k, cmd in engines.items():
                got[k].append(timer_value(cmd))
        tasks[kind] = {k: median(v) for k, v in got.items()}
        print(f"  {kind} done", flush=True)
    s["inprocess_ms"] = tasks

    # The customer dimension: stave's breakdown / top zips / hours against
    # its own profile over the same range (target: at most 2x) and DuckDB.
    dim = {}
    for kind, name, ref, where in [("breakdown by level", "breakdown_level", "profile", ""),
                                   ("breakdown by level, one month", "breakdown_level_month", "profile_month", MONTH),
                                   ("top 10 zips", "top_zips", "profile", ""),
                                   ("top 10 zips, one month", "top_zips_month", "profile_month", MONTH),
                                   ("hours by level", "hours_by_level", "profile", "")]:
        sql_kind = {"breakdown_level": "breakdown", "breakdown_level_month": "breakdown", "top_zips": "top_zips",
                    "top_zips_month": "top_zips", "hours_by_level": "hours"}[name]
        w = where.replace("datetime", "t.datetime") if sql_kind == "hours" else where.replace("datetime", "tracks.datetime") if sql_kind == "breakdown" else where
        engines = {"stave": stave_timer(store, name, inner), "stave profile, same range": stave_timer(store, ref, inner),
                   "DuckDB native": duck_dim_timer(db, sql_kind, w, inner)}
        got = {k: [] for k in engines}
        for r in range(R):
            for k, cmd in engines.items():
                got[k].append(timer_value(cmd))
        dim[kind] = {k: median(v) for k, v in got.items()}
    s["dimension_ms"] = dim
    print("  customer dimension done", flush=True)

    if rows <= 1_000_000 or args.quick:
        s["live"] = live_data(csv, store, work, inner, R)
        print("  live data done", flush=True)

    # Whole processes: stave profile vs the DuckDB CLI, alternating.
    cli = os.path.join(VENV_BIN, "duckdb")
    procs = {"stave profile (process)": [STAVE, "profile", store, "--format", "csv", "-o", "/dev/null"],
             "DuckDB CLI (process)": [cli, cli_db, "-readonly", "-c", f"COPY ({query_sql('profile', 'tracks')}) TO '/dev/null' (FORMAT csv)"]}
    got = {k: [] for k in procs}
    for cmd in procs.values():
        run(cmd)
    for r in range(max(R, 10)):
        for k, cmd in procs.items():
            got[k].append(run(cmd)[0] * 1000)
    s["process_ms"] = {k: median(v) for k, v in got.items()}
    shutil.rmtree(work, ignore_errors=True)
    return s


# ---------------------------------------------------------------- live data

def live_data(csv, store, work, inner, rounds):
    """Issue 5: append latency, the cost of many small parts, follow throughput."""
    out = {}
    lines = open(csv, "rb").read().splitlines(keepends=True)
    live = os.path.join(work, "live.stave")
    shutil.rmtree(live, ignore_errors=True)
    shutil.copytree(store, live)
    # 1. A 1,000-row append, then a new query process that sees it. Each
    #    round appends new events (the first 1,000 lines renumbered after
    #    every id so far): stave refuses an event id it already holds.
    chunk = os.path.join(work, "append-1000.csv")
    appends, visible = [], []
    for r in range(max(10, rounds * 2)):
        offset = len(lines) + r * 1000
        renumbered = []
        for l in lines[:1000]:
            f = l.split(b",", 1)
            renumbered.append(str(int(f[0]) + offset).encode() + b"," + f[1])
        open(chunk, "wb").write(b"".join(renumbered))
        t_append, _ = run([STAVE, "append", live, chunk, "--quiet"])
        t_query, out_q = run([STAVE, "stats", live, "--format", "csv"])
        appends.append(t_append * 1000)
        visible.append((t_append + t_query) * 1000)
    out["append_1000_ms"] = median(appends)
    out["append_then_query_ms"] = median(visible)
    # 2. One large part plus 100 appended ones (of 1,000 rows, the append
    #    unit above, and of n/200 rows), against the same rows compacted.
    many = os.path.join(work, "many.stave")
    n = len(lines)
    out["many_parts"] = []
    for small in sorted({min(1000, max(1, n // 200)), max(1, n // 200)}):
        shutil.rmtree(many, ignore_errors=True)
        big = n - 100 * small
        first = os.path.join(work, "big.csv")
        open(first, "wb").write(b"".join(lines[:big]))
        run([STAVE, "convert", first, "-o", many, "--quiet"])
        for k in range(100):
            piece = os.path.join(work, "piece.csv")
            open(piece, "wb").write(b"".join(lines[big + k * small: big + (k + 1) * small]))
            run([STAVE, "append", many, piece, "--quiet", "--no-compact"])
        got = {"101 parts": [], "compacted": []}
        for r in range(rounds):
            got["101 parts"].append(timer_value(stave_timer(many, "profile", inner)))
        # Compaction itself is timed too (a regression once made it 6x
        # slower unnoticed): each round compacts a fresh copy.
        compact_s = []
        for r in range(max(3, rounds)):
            copy = many + f".copy{r}"
            shutil.rmtree(copy, ignore_errors=True)
            shutil.copytree(many, copy)
            os.sync()
            t, _ = run([STAVE, "compact", copy, "--quiet"])
            compact_s.append(t)
            shutil.rmtree(copy, ignore_errors=True)
        run([STAVE, "compact", many, "--quiet"])
        for r in range(rounds):
            got["compacted"].append(timer_value(stave_timer(many, "profile", inner)))
        out["many_parts"].append({"small_part_rows": small, "profile_101_parts_ms": median(got["101 parts"]),
                                  "profile_compacted_ms": median(got["compacted"]),
                                  "compact_ms": median(compact_s) * 1000, "rows": n})
    # 3. follow: the whole CSV, already written, as fast as it goes.
    fol = os.path.join(work, "follow.stave")
    shutil.rmtree(fol, ignore_errors=True)
    empty = os.path.join(work, "empty.csv")
    open(empty, "wb").close()
    run([STAVE, "convert", empty, "-o", fol, "--quiet"])
    idle = 200
    t, _ = run([STAVE, "follow", fol, csv, "--batch-rows", "100000", "--idle-exit", str(idle), "--quiet"])
    out["follow_events_per_s"] = n / max(1e-9, t - idle / 1000)
    shutil.rmtree(live, ignore_errors=True)
    shutil.rmtree(many, ignore_errors=True)
    shutil.rmtree(fol, ignore_errors=True)
    return out


# ---------------------------------------------------------------- report

def machine():
    cpu = "unknown"
    for line in open("/proc/cpuinfo"):
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    mem = [l for l in open("/proc/meminfo") if l.startswith("MemTotal")][0].split()[1]
    return {"cores": os.cpu_count(), "cpu": cpu, "memory_gib": round(int(mem) / 1048576, 1), "kernel": platform.release()}


def versions(args):
    def out(cmd):
        try:
            return subprocess.run(cmd, capture_output=True, text=True).stdout.strip() or subprocess.run(cmd, capture_output=True, text=True).stderr.strip()
        except OSError:
            return "n/a"
    import duckdb, polars, pyarrow
    v = {"stave": out(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"]),
         "Swift": out(["swift", "--version"]).splitlines()[0],
         "DuckDB (Python)": duckdb.__version__, "DuckDB CLI": out([os.path.join(VENV_BIN, "duckdb"), "--version"]),
         "Polars": polars.__version__, "PyArrow": pyarrow.__version__,
         "zstd": out(["zstd", "--version"]), "xz": out(["xz", "--version"]).splitlines()[0]}
    if args.spark:
        import pyspark
        v["PySpark"] = pyspark.__version__
        v["Java"] = out(["java", "-version"]).splitlines()[0]
    return v


def fmt_ms(x):
    return f"{x:.1f}" if x >= 10 else f"{x:.2f}" if x >= 1 else f"{x:.3f}"


def report(results, m, v, args):
    L = []
    L.append("# Benchmarks: stave side by side with DuckDB, Polars, PyArrow and Spark\n")
    L.append(f"Produced by `Benchmarks/compare/run` on {datetime.date.today().isoformat()}; every number below comes from that one run "
             "(`--report-only` re-renders this page from the saved results without measuring again).\n")
    L.append(f"**Machine**: {m['cores']} cores, {m['cpu']}, {m['memory_gib']} GiB memory, Linux {m['kernel']}. "
             "A shared VM: runs vary 10-30 %, so every figure is a median of alternating runs.\n")
    L.append("**Versions**: " + "; ".join(f"{k} {val}" for k, val in v.items()) + ".\n")
    L.append(f"**Method**: data from `stave generate --seed 42` (200 events per customer on average). "
             f"Before timing, the profile (full, one month, one customer) is checked identical across engines and the statistics equal to 1e-9. "
             f"In-process times: each engine runs in its own process that opens its data once, warms up, runs the query {args.inner} times "
             f"({max(3, args.inner // 2)} above 1M rows; stave, whose queries take milliseconds, at least {STAVE_MIN_RUNS} times) and reports the median; "
             f"{args.rounds} such processes alternate across engines and the median of their medians is quoted. "
             "Conversions are whole processes (Python engines include interpreter start-up, about 0.1 s), each started after `sync` (so no engine pays for the previous one's writeback), alternating, median time and the largest peak RSS. "
             "DuckDB and Polars use both cores by default, as does stave unless stated.\n")
    for s in results:
        rows = s["rows"]
        csv_mb = s["csv_bytes"] / 1e6
        L.append(f"\n## {rows:,} events, {s['customers']:,} customers ({csv_mb:.1f} MB of CSV)\n")
        for c in s.get("checked", []):
            L.append(f"- checked: {c}")
        L.append("\n### Convert\n")
        L.append("| engine | median s | MB/s of CSV | peak RSS MB | stave is faster by |")
        L.append("|---|---|---|---|---|")
        base = s["convert"]["stave convert"]["seconds"]
        for k, x in s["convert"].items():
            L.append(f"| {k} | {x['seconds']:.2f} | {csv_mb / x['seconds']:.0f} | {x['rss_mb']:.0f} | {x['seconds'] / base:.2f}x |")
        L.append("\n### Size\n")
        L.append("| form | bytes | stave store / this |")
        L.append("|---|---|---|")
        st = s["sizes"]["stave store"]
        for k, b in s["sizes"].items():
            L.append(f"| {k} | {b:,} | {st / b:.2f} |")
        L.append("\n### Queries, in-process (ms, median)\n")
        names = ["stave", "stave 1 thread", "DuckDB native", "DuckDB Parquet", "Polars Parquet"]
        L.append("| query | " + " | ".join(names) + " | DuckDB native / stave |")
        L.append("|---|" + "---|" * (len(names) + 1))
        labels = {"profile": "profile, full", "month": "profile, one month", "stats": "stats (colStats)", "customer": "one customer"}
        for kind, t in s["inprocess_ms"].items():
            L.append(f"| {labels[kind]} | " + " | ".join(fmt_ms(t[n]) for n in names) + f" | {t['DuckDB native'] / t['stave']:.1f}x |")
        if "dimension_ms" in s:
            L.append("\n### Customer dimension, in-process (ms, median)\n")
            L.append("| query | stave | stave profile, same range | stave / profile | DuckDB native | DuckDB / stave |")
            L.append("|---|---|---|---|---|---|")
            for kind, t in s["dimension_ms"].items():
                st, pr, du_ = t["stave"], t["stave profile, same range"], t["DuckDB native"]
                L.append(f"| {kind} | {fmt_ms(st)} | {fmt_ms(pr)} | {st / pr:.2f}x | {fmt_ms(du_)} | {du_ / st:.1f}x |")
        if "live" in s:
            lv = s["live"]
            L.append("\n### Live data (issue 5)\n")
            L.append("| measure | result | target |")
            L.append("|---|---|---|")
            L.append(f"| `stave append` of 1,000 rows (whole process) | {fmt_ms(lv['append_1000_ms'])} ms | |")
            L.append(f"| append, then a new `stave stats` process sees it | {fmt_ms(lv['append_then_query_ms'])} ms | <= 100 ms |")
            for mp in lv["many_parts"]:
                L.append(f"| profile over 1 large part + 100 appended parts of {mp['small_part_rows']:,} rows | {fmt_ms(mp['profile_101_parts_ms'])} ms | |")
                L.append(f"| the same after `stave compact` | {fmt_ms(mp['profile_compacted_ms'])} ms | |")
                L.append(f"| many parts / compacted | {mp['profile_101_parts_ms'] / mp['profile_compacted_ms']:.2f}x | <= 1.5x |")
                if "compact_ms" in mp:
                    L.append(f"| `stave compact` of those 101 parts (whole process, {mp['rows']:,} rows) | {fmt_ms(mp['compact_ms'])} ms | |")
            L.append(f"| `stave follow` of a written file (commits of 100,000 rows) | {lv['follow_events_per_s'] / 1e6:.2f} M events/s | >= 0.2 M/s |")
        L.append("\n### Whole process (ms, median)\n")
        L.append("| command | ms |")
        L.append("|---|---|")
        for k, x in s["process_ms"].items():
            L.append(f"| {k} | {fmt_ms(x)} |")
        p = s["process_ms"]
        L.append(f"\nDuckDB CLI / stave: {p['DuckDB CLI (process)'] / p['stave profile (process)']:.1f}x.")
        if "spark" in s:
            sp = s["spark"]
            L.append(f"\n### The original Spark job (PySpark, local[2])\n")
            L.append(f"Whole job {sp['seconds']:.1f} s median of {sp['runs']} (JVM and context start-up {sp['startup_s']:.1f} s, "
                     f"job {sp['job_s']:.1f} s); stave's whole `profile` process is "
                     f"{sp['seconds'] * 1000 / p['stave profile (process)']:.0f}x faster.")
        if "parquet" in s:
            pqr = s["parquet"]
            duck = s["convert"]["DuckDB CSV -> Parquet (zstd)"]["seconds"]
            L.append("\n### Parquet (issue 7)\n")
            L.append("| process | median s | peak RSS MB | vs DuckDB CSV -> Parquet (zstd) |")
            L.append("|---|---|---|---|")
            L.append(f"| DuckDB CSV -> Parquet (zstd) | {duck:.2f} | {s['convert']['DuckDB CSV -> Parquet (zstd)']['rss_mb']:.0f} | 1.00x |")
            for k, x in pqr.items():
                L.append(f"| {k} | {x['seconds']:.2f} | {x['rss_mb']:.0f} | {duck / x['seconds']:.2f}x faster |")
            z = s["sizes"]
            L.append(f"\nSize: stave's Parquet {z['Parquet zstd (stave export)']:,} bytes, DuckDB's {z['Parquet zstd (DuckDB)']:,}, "
                     f"PyArrow's {z['Parquet zstd (PyArrow)']:,} ({z['Parquet zstd (stave export)'] / z['Parquet zstd (DuckDB)']:.2f}x DuckDB's).")
        if "spark_job" in s:
            sj = s["spark_job"]
            conv = s["convert"]["stave convert"]["seconds"]
            pr, st = s["process_ms"]["stave profile (process)"], sj["stave_stats_ms"]
            L.append("\n### The same job on Spark (spark/profile_job.py, local[2])\n")
            L.append("| pipeline | seconds | Spark / this |")
            L.append("|---|---|---|")
            L.append(f"| Spark job: CSV to profile and stats files (median of {sj['runs']}) | {sj['seconds']:.1f} | 1.0x |")
            L.append(f"| stave: convert, then profile and stats (three processes) | {conv + (pr + st) / 1000:.2f} | {sj['seconds'] / (conv + (pr + st) / 1000):.0f}x |")
            L.append(f"| stave: profile and stats on the store (two processes) | {(pr + st) / 1000:.3f} | {sj['seconds'] / ((pr + st) / 1000):.0f}x |")
    if len(results) >= 2:
        a, b = results[0], results[1]
        L.append(f"\n## Scaling ({b['rows']:,} / {a['rows']:,} rows)\n")
        L.append("| query | stave time ratio | stave 1 thread / 2 threads at the larger scale |")
        L.append("|---|---|---|")
        for kind in a["inprocess_ms"]:
            r = b["inprocess_ms"][kind]["stave"] / a["inprocess_ms"][kind]["stave"]
            t = b["inprocess_ms"][kind]["stave 1 thread"] / b["inprocess_ms"][kind]["stave"]
            L.append(f"| {kind} | {r:.1f} | {t:.2f}x |")
    L.append("\n## Targets (issue 3)\n")
    L.append("| target | result | met |")
    L.append("|---|---|---|")
    for s in results:
        t = s["inprocess_ms"]
        n = f"{s['rows'] // 1_000_000}M" if s["rows"] >= 1_000_000 else str(s["rows"])
        def row(name, value, ok):
            L.append(f"| {name} at {n} | {value} | {'yes' if ok else '**no**'} |")
        x = t["profile"]["DuckDB native"] / t["profile"]["stave"]
        row("profile in-process >= 10x DuckDB native", f"{x:.1f}x", x >= 10)
        p = s["process_ms"]
        x = p["DuckDB CLI (process)"] / p["stave profile (process)"]
        row("`stave profile` process >= 10x DuckDB CLI", f"{x:.1f}x", x >= 10)
        x = t["month"]["DuckDB native"] / t["month"]["stave"]
        y = t["profile"]["stave"] / t["month"]["stave"]
        row("one month >= 10x DuckDB and >= 2x stave full", f"{x:.1f}x DuckDB, {y:.1f}x full", x >= 10 and y >= 2)
        row("one customer <= 1 ms in-process", f"{fmt_ms(t['customer']['stave'])} ms", t["customer"]["stave"] <= 1)
        x = t["stats"]["stave"] / t["profile"]["stave"]
        row("stats within 1.2x of profile", f"{x:.2f}x", x <= 1.2)
        c = s["convert"]
        x = c["DuckDB CSV -> Parquet (zstd)"]["seconds"] / c["stave convert"]["seconds"]
        row("convert >= 2x DuckDB CSV -> Parquet throughput", f"{x:.2f}x", x >= 2)
        z = s["sizes"]
        x, y = z["stave store"] / z["Parquet zstd (DuckDB)"], z["stave store"] / z["CSV xz -9"]
        row("size <= 0.6x DuckDB zstd Parquet and <= 0.8x xz -9", f"{x:.2f}x and {y:.2f}x", x <= 0.6 and y <= 0.8)
        x = c["stave convert"]["rss_mb"]
        row("convert peak RSS <= 512 MB", f"{x:.0f} MB", x <= 512)
        x = t["profile"]["stave 1 thread"] / t["profile"]["stave"]
        row("2 threads >= 1.7x faster than 1 (profile)", f"{x:.2f}x", x >= 1.7)
        if "live" in s:
            lv = s["live"]
            row("append + new query visible <= 100 ms (issue 5)", f"{fmt_ms(lv['append_then_query_ms'])} ms", lv["append_then_query_ms"] <= 100)
            for mp in lv["many_parts"]:
                x = mp["profile_101_parts_ms"] / mp["profile_compacted_ms"]
                row(f"1 + 100 parts of {mp['small_part_rows']:,} rows <= 1.5x compacted (issue 5)", f"{x:.2f}x", x <= 1.5)
            x = lv["follow_events_per_s"]
            row("follow >= 200,000 events/s (issue 5)", f"{x / 1e6:.2f} M/s", x >= 200_000)
        if "parquet" in s:
            x = c["DuckDB CSV -> Parquet (zstd)"]["seconds"] / s["parquet"]["stave export --format parquet"]["seconds"]
            row("Parquet export at least as fast as DuckDB CSV -> Parquet (issue 7)", f"{x:.2f}x", x >= 1)
            x = z["Parquet zstd (stave export)"] / z["Parquet zstd (DuckDB)"]
            row("stave's Parquet <= 1.1x DuckDB's zstd Parquet (issue 7)", f"{x:.2f}x", x <= 1.1)
        if "dimension_ms" in s:
            x = max(v["stave"] / v["stave profile, same range"] for v in s["dimension_ms"].values())
            row("breakdown, top zips, hours <= 2x profile, same range (issue 4)", f"worst {x:.2f}x", x <= 2)
    if len(results) >= 2:
        worst = max(results[1]["inprocess_ms"][k]["stave"] / results[0]["inprocess_ms"][k]["stave"] for k in results[0]["inprocess_ms"])
        L.append(f"| 10M/1M time ratio <= 11 for every query | worst {worst:.1f} | {'yes' if worst <= 11 else '**no**'} |")
    return "\n".join(L) + "\n"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, action="append", help="add a scale (rows); default 1M and 10M")
    ap.add_argument("--quick", action="store_true", help="CI smoke run: 10,000 rows, no Spark, report to stdout only")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--inner", type=int, default=5)
    ap.add_argument("--no-spark", dest="spark", action="store_false")
    ap.add_argument("--spark-max-rows", type=int, default=1_000_000)
    ap.add_argument("--spark-runs", type=int, default=3)
    ap.add_argument("--spark-job-max-rows", type=int, default=10_000_000, help="largest scale for spark/profile_job.py")
    ap.add_argument("--out", default=os.path.join(ROOT, "BENCHMARKS.md"))
    ap.add_argument("--report-only", action="store_true", help="re-render BENCHMARKS.md from the last run's saved results")
    args = ap.parse_args()
    cache = os.environ.get("STAVE_BENCH_CACHE", os.path.expanduser("~/.cache/stave-bench"))
    if args.report_only:
        saved = json.load(open(os.path.join(cache, "last-run.json")))
        if isinstance(saved, list):   # saved by an earlier version of this script: results only
            saved = {"results": saved, "machine": machine(), "versions": versions(args)}
        text = report(saved["results"], saved["machine"], saved["versions"], args)
        if os.path.exists(args.out):
            kept = [m.group(0) for m in re.finditer(r"<!-- (serve|gaps|scale|python):begin.*?<!-- \1:end -->\n", open(args.out).read(), flags=re.S)]
            text += "".join("\n" + k for k in kept)
        open(args.out, "w").write(text)
        print(text)
        return
    scales = [1_000_000, 10_000_000] + (args.rows or [])
    if args.quick:
        scales, args.rounds, args.inner, args.spark = [10_000], 2, 2, False
    results = [scale(r, args, cache) for r in scales]
    m, v = machine(), versions(args)
    text = report(results, m, v, args)
    if args.quick:
        print(text)
    else:
        # Keep the sections other harnesses write (Benchmarks/serve/run) and
        # the hand-written notes on targets not met (gaps).
        if os.path.exists(args.out):
            kept = [m.group(0) for m in re.finditer(r"<!-- (serve|gaps|scale|python):begin.*?<!-- \1:end -->\n", open(args.out).read(), flags=re.S)]
            text += "".join("\n" + k for k in kept)
        with open(args.out, "w") as f:
            f.write(text)
        json.dump({"results": results, "machine": m, "versions": v, "date": datetime.date.today().isoformat()},
                  open(os.path.join(cache, "last-run.json"), "w"), indent=1)
        print(text)
        print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
