"""The scale section of the harness (Benchmarks/compare/run --scale; not in CI).

stave at a real service's shape, side by side with DuckDB and ClickHouse (chDB,
in-process, its MergeTree ordered by customer_id, datetime), answers checked
identical before anything is timed:

  1. high cardinality: 2M events, 200,000 customers, 1M tracks;
  2. the original shape (1M events, 5,000 customers): whole processes;
  3. 10M and 100M events (100 a customer, 2M tracks): convert, size, every
     query in-process and as a whole process, peak anonymous memory;
  4. 1B events, stave alone: generated into `stave convert -` through a
     pipe (no CSV on disk), then the queries;
  5. live: appends of 1,000 rows every 100 ms into the 10M store for
     --live-seconds, the profile timed throughout against the compacted
     store's (at the end, and paired: a compacted store of every row the
     loop may append, timed right after each probe), and the number of
     parts.

Generated data lives in ${STAVE_BENCH_CACHE:-~/.cache/stave-bench}/scale and
is deleted at the end (--keep-data keeps it). Writes the "scale" section of
BENCHMARKS.md (between <!-- scale:begin --> and <!-- scale:end -->) and
docs/scale.svg (time per event against events).
"""
import argparse
import datetime
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time

import harness as h

STAVE, TIMER, ROOT, PY = h.STAVE, h.TIMER, h.ROOT, h.PY

CH_PROFILE = """SELECT customer_id, uniqExact(track_id),
  countIf(toHour(datetime) BETWEEN 5 AND 11), countIf(toHour(datetime) BETWEEN 12 AND 16),
  countIf(toHour(datetime) BETWEEN 17 AND 21), countIf(toHour(datetime) < 5 OR toHour(datetime) >= 22),
  sum(mobile), count() FROM tracks {where} GROUP BY customer_id ORDER BY customer_id"""
CH_MONTH = "WHERE datetime >= toDateTime('2014-11-01 00:00:00', 'UTC') AND datetime < toDateTime('2014-12-01 00:00:00', 'UTC')"
CH_ONE = "WHERE customer_id = 48"
CH_STATS = ("WITH p AS (" + CH_PROFILE.format(where="").replace("uniqExact(track_id)", "uniqExact(track_id) AS u").replace("sum(mobile), count()", "sum(mobile) AS m, count() AS n")
            + ") SELECT count(), avg(u), varSamp(u), min(u), max(u), avg(n), varSamp(n), avg(m) FROM p")


def chdb_code(path, csv=None):
    load = ""
    if csv:
        load = (f"shutil.rmtree({path!r}, ignore_errors=True)\ns=chs.Session({path!r})\n"
                "s.query(\"CREATE TABLE tracks (event_id Int64, customer_id UInt32, track_id UInt32, datetime DateTime('UTC'), "
                "mobile UInt8, listening_zip String) ENGINE = MergeTree ORDER BY (customer_id, datetime)\")\n"
                f"s.query(\"INSERT INTO tracks SELECT * FROM file('{csv}', CSV, 'event_id Int64, customer_id UInt32, track_id UInt32, "
                "datetime DateTime(\\\\'UTC\\\\'), mobile UInt8, listening_zip String')\")\n"
                "s.query('OPTIMIZE TABLE tracks FINAL')\n")
    else:
        load = f"s=chs.Session({path!r})\n"
    return "import shutil\nfrom chdb import session as chs\n" + load


def chdb_timer(path, sql, inner):
    return h.py(h.TIMER_PRELUDE + chdb_code(path) + f"timed(lambda: s.query({sql!r}, 'CSV'), {inner})")


def chdb_rows(path, sql):
    _, out = h.run(h.py(chdb_code(path) + f"print(s.query({sql!r}, 'CSV'))"))
    return [tuple(int(x) for x in l.split(",")) for l in out.strip().splitlines()]


def stave_rows(store, *flags):
    return h.stave_profile(store, *flags)


def process_ms(cmd, n):
    h.run(cmd)
    return h.median([h.run(cmd)[0] * 1000 for _ in range(n)])


def rss_anon_peak(cmd):
    """Peak RssAnon (kB) of a process, sampled every 2 ms from /proc."""
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    peak = 0
    while p.poll() is None:
        try:
            for line in open(f"/proc/{p.pid}/status"):
                if line.startswith("RssAnon:"):
                    peak = max(peak, int(line.split()[1]))
        except OSError:
            pass
        time.sleep(0.002)
    return peak / 1024


def timer_ms(store, name, threads=2, runs=10):
    return h.timer_value([TIMER, store, "--only", name, "--runs", str(runs), "--threads", str(threads)])


def generate(d, rows, customers, tracks):
    csv = os.path.join(d, "tracks.csv")
    if not os.path.exists(csv):
        os.makedirs(d, exist_ok=True)
        h.run([STAVE, "generate", "--rows", str(rows), "--customers", str(customers), "--tracks", str(tracks),
               "--seed", "42", "-o", d, "--quiet"])
    return csv


def duck_load(csv, db):
    return h.run_rss(h.py(h.duck_import_code(csv, db)))


# ---------------------------------------------------------------- sections

def high_cardinality(cache, args):
    d = os.path.join(cache, "hc2m")
    csv = generate(d, 2_000_000 // args.shrink, 200_000 // args.shrink, 1_000_000 // args.shrink)
    store, ch = os.path.join(d, "hc.stave"), os.path.join(d, "hc.chdb")
    h.run([STAVE, "convert", csv, "-o", store, "--force", "--quiet"])
    h.run(h.py(chdb_code(ch, csv)))
    db = os.path.join(d, "hc.duckdb")
    duck_load(csv, db)
    mine = stave_rows(store)
    if mine != chdb_rows(ch, CH_PROFILE.format(where="")):
        sys.exit("high cardinality: stave and chDB differ")
    if mine != [tuple(int(v) for v in r) for r in h.duck_rows(db, h.query_sql("profile", "tracks"))]:
        sys.exit("high cardinality: stave and DuckDB differ")
    R = args.rounds
    got = {"stave (process)": [], "stave in-process, 2 threads": [], "stave in-process, 1 thread": [], "chDB in-process": [], "DuckDB in-process": []}
    for _ in range(R):
        got["stave (process)"].append(process_ms([STAVE, "profile", store, "--format", "csv", "-o", "/dev/null"], 5))
        got["stave in-process, 2 threads"].append(timer_ms(store, "profile", 2))
        got["stave in-process, 1 thread"].append(timer_ms(store, "profile", 1))
        got["chDB in-process"].append(h.timer_value(chdb_timer(ch, CH_PROFILE.format(where=""), 5)))
        got["DuckDB in-process"].append(h.timer_value(h.duck_timer(db, "profile", 3)))
    return {"customers": len(mine), "checked": "profile identical in stave, chDB and DuckDB", "ms": {k: h.median(v) for k, v in got.items()}}


def original_shape(cache, args):
    d = os.path.join(cache, "r1m")
    csv = generate(d, 1_000_000, 5_000, 1701)
    store = os.path.join(d, "r1m.stave")
    h.run([STAVE, "convert", csv, "-o", store, "--force", "--quiet"])
    R = args.rounds
    got = {"profile (process)": [], "one customer (process)": [], "profile in-process": [], "one customer in-process": []}
    for _ in range(R):
        got["profile (process)"].append(process_ms([STAVE, "profile", store, "--format", "csv", "-o", "/dev/null"], 10))
        got["one customer (process)"].append(process_ms([STAVE, "profile", store, "--customer", "48", "--format", "csv", "-o", "/dev/null"], 10))
        got["profile in-process"].append(timer_ms(store, "profile", runs=20))
        got["one customer in-process"].append(timer_ms(store, "customer", runs=20))
    return {k: h.median(v) for k, v in got.items()}


def big(cache, args, rows, customers, tracks, anchors=True):
    d = os.path.join(cache, f"r{rows}")
    csv = generate(d, rows, customers, tracks)
    store, db, pq, ch = [os.path.join(d, n) for n in ["s.stave", "d.duckdb", "d.parquet", "c.chdb"]]
    s = {"rows": rows, "customers": customers, "tracks": tracks, "csv_bytes": os.path.getsize(csv)}
    R = max(1, args.rounds if rows <= 10_000_000 else args.big_rounds)
    conv = {"stave convert": [], "DuckDB CSV -> native table": []}
    for _ in range(R):
        conv["stave convert"].append(h.run_rss([STAVE, "convert", csv, "-o", store, "--force", "--quiet"]))
        if anchors:
            conv["DuckDB CSV -> native table"].append(duck_load(csv, db))
    s["convert"] = {k: {"seconds": h.median([x[0] for x in v]), "rss_mb": max(x[1] for x in v)} for k, v in conv.items() if v}
    print(f"  {rows:,}: convert done", flush=True)
    sizes = {"stave store": h.du(store)}
    if anchors:
        h.run(h.py(h.duck_parquet_code(csv, pq)))
        sizes["Parquet zstd (DuckDB)"] = h.du(pq)
        os.remove(pq)
        t0 = time.perf_counter()
        h.run(h.py(chdb_code(ch, csv)))
        s["chdb_load_s"] = time.perf_counter() - t0
        sizes["ClickHouse MergeTree (chDB)"] = h.du(ch)
    s["sizes"] = sizes
    # Answers first.
    if anchors:
        for kind, flags, where in [("profile", [], ""), ("month", ["--from", "2014-11-01", "--to", "2014-12-01"], CH_MONTH),
                                   ("customer", ["--customer", "48"], CH_ONE)]:
            mine = stave_rows(store, *flags)
            if mine != [tuple(int(v) for v in r) for r in h.duck_rows(db, h.query_sql(kind, "tracks"))]:
                sys.exit(f"{rows:,} {kind}: stave and DuckDB differ")
            if mine != chdb_rows(ch, CH_PROFILE.format(where=where)):
                sys.exit(f"{rows:,} {kind}: stave and chDB differ")
        s["checked"] = "profile (full, one month, one customer) identical in stave, DuckDB and chDB"
        print(f"  {rows:,}: answers identical", flush=True)
    # Queries.
    names = {"profile": ("profile", []), "month": ("profile_month", ["--from", "2014-11-01", "--to", "2014-12-01"]),
             "stats": ("stats", []), "customer": ("customer", ["--customer", "48"])}
    q = {}
    for kind, (timer_name, flags) in names.items():
        cmd = [STAVE, "stats" if kind == "stats" else "profile", store, *flags, "--format", "csv", "-o", "/dev/null"]
        got = {"stave (process)": [], "stave in-process": [], "stave in-process, 1 thread": []}
        if anchors:
            got["DuckDB in-process"] = []
            got["chDB in-process"] = []
        for _ in range(R):
            got["stave (process)"].append(process_ms(cmd, 5 if rows <= 100_000_000 else 3))
            got["stave in-process"].append(timer_ms(store, timer_name, 2, runs=10 if rows <= 100_000_000 else 3))
            got["stave in-process, 1 thread"].append(timer_ms(store, timer_name, 1, runs=5 if rows <= 100_000_000 else 2))
            if anchors:
                got["DuckDB in-process"].append(h.timer_value(h.duck_timer(db, kind, 2)))
                sql = CH_STATS if kind == "stats" else CH_PROFILE.format(where={"profile": "", "month": CH_MONTH, "customer": CH_ONE}[kind])
                got["chDB in-process"].append(h.timer_value(chdb_timer(ch, sql, 2)))
        q[kind] = {k: h.median(v) for k, v in got.items()}
        q[kind]["stave RssAnon MB"] = rss_anon_peak(cmd)
        print(f"  {rows:,}: {kind} done", flush=True)
    s["queries"] = q
    # The customer dimension against the profile over the same range.
    cust = os.path.join(d, "cust.csv")
    h.run([STAVE, "convert", "--customers", cust, "-o", store, "--quiet"])
    dims = {}
    for name, ref in [("breakdown_level", "profile"), ("top_zips", "profile"), ("hours", "profile"), ("hours_by_level", "profile"),
                      ("breakdown_level_month", "profile_month"), ("top_zips_month", "profile_month")]:
        dims[name] = {"ms": h.median([timer_ms(store, name, runs=5) for _ in range(R)]),
                      "profile_ms": h.median([timer_ms(store, ref, runs=5) for _ in range(R)])}
    summary_cmd = [STAVE, "summary", store, "--format", "json", "-o", "/dev/null"]
    dims["summary (process)"] = {"ms": process_ms(summary_cmd, 5), "profile_ms": q["profile"]["stave (process)"]}
    s["dimension"] = dims
    s["dimension_rss_mb"] = max(rss_anon_peak([STAVE, "breakdown", store, "--by", "level", "-o", "/dev/null"]),
                                rss_anon_peak([STAVE, "top-zips", store, "-o", "/dev/null"]),
                                rss_anon_peak([STAVE, "hours", store, "--by", "level", "-o", "/dev/null"]))
    print(f"  {rows:,}: dimension done", flush=True)
    # Compaction of the store as two runs (the CSV in two halves, the second appended).
    s["compact"] = compaction(csv, d, rows)
    s["store"] = store
    return s


def compaction(csv, d, rows):
    """A store of two runs (the second half appended), then compacted into one."""
    half = os.path.join(d, "half.stave")
    shutil.rmtree(half, ignore_errors=True)
    lines = rows // 2
    h.run(["sh", "-c", f"head -n {lines} {csv} | {STAVE} convert - -o {half} --quiet"])
    h.run(["sh", "-c", f"tail -n +{lines + 1} {csv} | {STAVE} append {half} - --quiet --no-compact"])
    t, rss = h.run_rss([STAVE, "compact", half, "--quiet"])
    shutil.rmtree(half, ignore_errors=True)
    return {"seconds": t, "rss_mb": rss}


def billion(cache, args):
    d = os.path.join(cache, "r1b")
    os.makedirs(d, exist_ok=True)
    store = os.path.join(d, "s.stave")
    shutil.rmtree(store, ignore_errors=True)
    rows, customers = args.billion_rows, args.billion_rows // 100
    os.sync()
    with tempfile.NamedTemporaryFile("r", suffix=".rss") as rss, tempfile.NamedTemporaryFile("r", suffix=".rss") as gen_rss:
        t0 = time.perf_counter()
        gen = subprocess.Popen(["/usr/bin/time", "-f", "%M", "-o", gen_rss.name,
                                STAVE, "generate", "--rows", str(rows), "--customers", str(customers), "--tracks", "2000000",
                                "--seed", "42", "-o", "-", "--quiet"], stdout=subprocess.PIPE)
        conv = subprocess.run(["/usr/bin/time", "-f", "%M", "-o", rss.name, STAVE, "convert", "-", "-o", store, "--quiet"],
                              stdin=gen.stdout, stderr=subprocess.PIPE)
        gen.wait()
        seconds = time.perf_counter() - t0
        if conv.returncode != 0 or gen.returncode != 0:
            sys.exit("1B convert failed: " + conv.stderr.decode()[-2000:])
        convert = {"seconds": seconds, "rss_mb": int(rss.read().split()[-1]) / 1024,
                   "generate_rss_mb": int(gen_rss.read().split()[-1]) / 1024}
    print("  1B: convert done", flush=True)
    s = {"rows": rows, "customers": customers, "convert": convert, "store_bytes": h.du(store), "queries": {}}
    for kind, cmd in [("profile", ["profile", store]), ("stats", ["stats", store]),
                      ("month", ["profile", store, "--from", "2014-11-01", "--to", "2014-12-01"]),
                      ("customer", ["profile", store, "--customer", "48"])]:
        full = [STAVE, *cmd, "--format", "csv", "-o", "/dev/null"]
        s["queries"][kind] = {"stave (process)": process_ms(full, 3), "stave RssAnon MB": rss_anon_peak(full)}
        print(f"  1B: {kind} done", flush=True)
    if not args.keep_data:
        shutil.rmtree(store, ignore_errors=True)
    return s


def live(cache, args, base_store, base_csv):
    """Appends of 1,000 rows every 100 ms for --live-seconds, compaction by
    tiers as the appends go, a profile timed every few seconds against the
    compacted store's; the number of parts and runs throughout."""
    work = os.path.join(cache, "live")
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    store = os.path.join(work, "live.stave")
    shutil.copytree(base_store, store)
    base_ms = timer_ms(store, "profile", runs=5)
    # New events: the generator's lines from a second seed, renumbered after the base.
    extra = os.path.join(work, "extra")
    need = int(args.live_seconds * 10 * 1000) + 1000
    h.run([STAVE, "generate", "--rows", str(need), "--customers", str(max(1, need // 100)), "--tracks", "2000000",
           "--seed", "7", "-o", extra, "--quiet"])
    lines = open(os.path.join(extra, "tracks.csv"), "rb").read().splitlines(keepends=True)
    offset = sum(1 for _ in open(base_csv, "rb"))

    def renumbered(batch):
        out = []
        for l in batch:
            f = l.split(b",", 1)
            out.append(str(int(f[0]) + offset).encode() + b"," + f[1])
        return b"".join(out)

    # The reference: the base with every row the loop may append, compacted.
    # Each probe times it right after the live store, so that the machine's
    # changes of speed during the ten minutes cancel in their ratio.
    ref = os.path.join(work, "ref.stave")
    shutil.copytree(base_store, ref)
    planned = os.path.join(work, "planned.csv")
    open(planned, "wb").write(renumbered(lines[:len(lines) // 1000 * 1000]))
    h.run([STAVE, "append", ref, planned, "--no-compact", "--quiet"])
    h.run([STAVE, "compact", ref, "--quiet"])
    os.remove(planned)
    samples, paired, parts, appends_ms = [], [], [], []
    t_end = time.monotonic() + args.live_seconds
    k = 0
    next_probe = time.monotonic()
    piece = os.path.join(work, "piece.csv")
    while time.monotonic() < t_end and (k + 1) * 1000 <= len(lines):
        t0 = time.monotonic()
        open(piece, "wb").write(renumbered(lines[k * 1000:(k + 1) * 1000]))
        t, _ = h.run([STAVE, "append", store, piece, "--quiet"])
        appends_ms.append(t * 1000)
        k += 1
        if time.monotonic() >= next_probe:
            samples.append(timer_ms(store, "profile", runs=3))
            paired.append(samples[-1] / timer_ms(ref, "profile", runs=3))
            info = json.loads(h.run([STAVE, "inspect", store, "--format", "json"])[1])
            parts.append(len(info["parts"]))
            next_probe = time.monotonic() + 5
        time.sleep(max(0.0, 0.1 - (time.monotonic() - t0)))
    final_ms = timer_ms(store, "profile", runs=5)
    h.run([STAVE, "compact", store, "--quiet"])
    compacted_ms = timer_ms(store, "profile", runs=5)
    shutil.rmtree(work, ignore_errors=True)
    return {"seconds": args.live_seconds, "appends": k, "rows_appended": k * 1000, "base_profile_ms": base_ms,
            "profile_ms_median": h.median(samples), "profile_ms_max": max(samples), "profile_ms_final": final_ms,
            "compacted_profile_ms": compacted_ms, "paired_ratio_median": h.median(paired), "paired_ratio_max": max(paired),
            "parts_max": max(parts), "parts_final": parts[-1],
            "append_ms_median": h.median(appends_ms), "append_ms_max": max(appends_ms)}


# ---------------------------------------------------------------- report

def svg_plot(points, path):
    """Time per event (ns) against events, log-log, one line per engine."""
    W, H, L, B, T, Rm = 640, 400, 70, 50, 30, 150
    xs = sorted({x for series in points.values() for x, _ in series})
    ys = [y for series in points.values() for _, y in series]
    import math
    lx0, lx1 = math.log10(min(xs)), math.log10(max(xs))
    ly0, ly1 = math.floor(math.log10(min(ys))), math.ceil(math.log10(max(ys)))
    def px(x): return L + (math.log10(x) - lx0) / max(1e-9, lx1 - lx0) * (W - L - Rm)
    def py(y): return H - B - (math.log10(y) - ly0) / max(1e-9, ly1 - ly0) * (H - B - T)
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" font-family="sans-serif" font-size="12">',
           f'<rect width="{W}" height="{H}" fill="white"/>',
           f'<text x="{L}" y="18" font-size="14">Full profile: time per event (ns, log) against events (log)</text>']
    for e in range(ly0, ly1 + 1):
        y = py(10 ** e)
        out.append(f'<line x1="{L}" y1="{y:.1f}" x2="{W - Rm}" y2="{y:.1f}" stroke="#ddd"/><text x="{L - 8}" y="{y + 4:.1f}" text-anchor="end">{10 ** e:g}</text>')
    for x in xs:
        label = f"{x // 1_000_000_000}B" if x >= 1_000_000_000 else f"{x // 1_000_000}M"
        out.append(f'<line x1="{px(x):.1f}" y1="{T}" x2="{px(x):.1f}" y2="{H - B}" stroke="#eee"/><text x="{px(x):.1f}" y="{H - B + 18}" text-anchor="middle">{label}</text>')
    colors = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd"]
    for k, (name, series) in enumerate(points.items()):
        c = colors[k % len(colors)]
        pts = " ".join(f"{px(x):.1f},{py(y):.1f}" for x, y in sorted(series))
        out.append(f'<polyline points="{pts}" fill="none" stroke="{c}" stroke-width="2"/>')
        for x, y in series:
            out.append(f'<circle cx="{px(x):.1f}" cy="{py(y):.1f}" r="3" fill="{c}"/>')
        out.append(f'<text x="{W - Rm + 10}" y="{T + 20 + 18 * k}" fill="{c}">{name}</text>')
    out.append(f'<text x="{(L + W - Rm) / 2}" y="{H - 8}" text-anchor="middle">events</text></svg>')
    open(path, "w").write("\n".join(out) + "\n")


def ms(x):
    return h.fmt_ms(x)


def report(res, m, v):
    L = ["<!-- scale:begin -->", "## Scale (issue 16): 1M to 1B events\n",
         f"Produced by `Benchmarks/compare/run --scale` on {datetime.date.today().isoformat()}; **machine**: {m['cores']} cores, {m['cpu']}, "
         f"{m['memory_gib']} GiB, Linux {m['kernel']}; **versions**: " + "; ".join(f"{k} {x}" for k, x in v.items()) + ". "
         "Every figure is a median of alternating runs; whole processes include start-up and writing the CSV to /dev/null; "
         "in-process times are each engine's own process with its data open, warmed up. chDB's table is a MergeTree ordered by "
         "(customer_id, datetime), merged to one part (OPTIMIZE FINAL) before timing. Answers are checked identical first.\n"]
    hc = res["hc"]
    L.append(f"### High cardinality: 2M events, {hc['customers']:,} customers, 1M tracks\n")
    L.append(f"- checked: {hc['checked']}\n")
    L.append("| engine | profile ms |")
    L.append("|---|---|")
    for k, x in hc["ms"].items():
        L.append(f"| {k} | {ms(x)} |")
    t = hc["ms"]
    L.append(f"\nchDB in-process / stave in-process: {t['chDB in-process'] / t['stave in-process, 2 threads']:.1f}x; "
             f"2 threads / 1 thread: {t['stave in-process, 1 thread'] / t['stave in-process, 2 threads']:.2f}x.\n")
    o = res["orig"]
    L.append("### The original shape: 1M events, 5,000 customers\n")
    L.append("| measure | ms |")
    L.append("|---|---|")
    for k, x in o.items():
        L.append(f"| {k} | {ms(x)} |")
    for s in res["big"]:
        n = s["rows"]
        L.append(f"\n### {n:,} events, {s['customers']:,} customers, {s['tracks']:,} tracks ({s['csv_bytes'] / 1e9:.1f} GB of CSV)\n")
        if "checked" in s:
            L.append(f"- checked: {s['checked']}\n")
        L.append("| convert | median s | peak RSS MB |")
        L.append("|---|---|---|")
        for k, x in s["convert"].items():
            L.append(f"| {k} | {x['seconds']:.2f} | {x['rss_mb']:.0f} |")
        if "chdb_load_s" in s:
            L.append(f"| chDB: load and OPTIMIZE FINAL (once) | {s['chdb_load_s']:.1f} | |")
        L.append(f"| stave compact of two runs (the second half appended) | {s['compact']['seconds']:.2f} | {s['compact']['rss_mb']:.0f} |")
        L.append("\n| size | bytes | stave / this |")
        L.append("|---|---|---|")
        for k, b in s["sizes"].items():
            L.append(f"| {k} | {b:,} | {s['sizes']['stave store'] / b:.2f} |")
        cols = list(next(iter(s["queries"].values())).keys())
        L.append("\n| query (ms) | " + " | ".join(cols) + " |")
        L.append("|---|" + "---|" * len(cols))
        for kind, x in s["queries"].items():
            L.append(f"| {kind} | " + " | ".join(f"{x[c]:.0f}" if c.endswith("MB") else ms(x[c]) for c in cols) + " |")
        L.append("\n| query (in-process ms) | stave | profile, same range | ratio |")
        L.append("|---|---|---|---|")
        for k, x in s["dimension"].items():
            L.append(f"| {k} | {ms(x['ms'])} | {ms(x['profile_ms'])} | {x['ms'] / x['profile_ms']:.2f}x |")
        L.append(f"\nPeak RssAnon of breakdown, top zips and hours (whole processes): {s['dimension_rss_mb']:.0f} MB.")
    if len(res["big"]) >= 2:
        a, b = res["big"][0], res["big"][1]
        L.append(f"\n### {b['rows']:,} / {a['rows']:,} events (the same shape)\n")
        L.append("| query | stave in-process ratio | stave whole-process ratio |")
        L.append("|---|---|---|")
        for kind in a["queries"]:
            L.append(f"| {kind} | {b['queries'][kind]['stave in-process'] / a['queries'][kind]['stave in-process']:.1f} | "
                     f"{b['queries'][kind]['stave (process)'] / a['queries'][kind]['stave (process)']:.1f} |")
    if "billion" in res:
        bb = res["billion"]
        L.append(f"\n### {bb['rows']:,} events, {bb['customers']:,} customers, 2M tracks: stave alone\n")
        L.append(f"- `stave generate ... -o - | stave convert - -o STORE`: {bb['convert']['seconds']:.0f} s, convert peak RSS {bb['convert']['rss_mb']:.0f} MB "
                 f"(the generator's own peak RSS {bb['convert'].get('generate_rss_mb', 0):.0f} MB); store {bb['store_bytes'] / 1e9:.2f} GB\n")
        L.append("| query | whole process ms | peak RssAnon MB |")
        L.append("|---|---|---|")
        for kind, x in bb["queries"].items():
            L.append(f"| {kind} | {ms(x['stave (process)'])} | {x['stave RssAnon MB']:.0f} |")
    if "live" in res:
        lv = res["live"]
        L.append(f"\n### Live: {lv['appends']:,} appends of 1,000 rows every 100 ms for {lv['seconds']} s into the 10M store\n")
        L.append("| measure | value |")
        L.append("|---|---|")
        for k, x in lv.items():
            L.append(f"| {k} | {x:.1f} |" if isinstance(x, float) else f"| {k} | {x} |")
        L.append(f"\nProfile during the appends / compacted: median {lv['profile_ms_median'] / lv['compacted_profile_ms']:.2f}x, "
                 f"worst {lv['profile_ms_max'] / lv['compacted_profile_ms']:.2f}x.")
        if "paired_ratio_median" in lv:
            L.append(f"Each probe divided by the compacted store of every planned row, timed right after it: "
                     f"median {lv['paired_ratio_median']:.2f}x, worst {lv['paired_ratio_max']:.2f}x "
                     f"(that store holds every row from the start, so early probes read fewer rows than it; "
                     f"the ratio to the compacted store at the end has the same lean).")
    L.append("\n![Time per event against events](docs/scale.svg)\n")
    L.append("<!-- scale:end -->")
    return "\n".join(L) + "\n"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--scale", action="store_true")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--big-rounds", type=int, default=2, help="rounds at 100M and above")
    ap.add_argument("--billion-rows", type=int, default=1_000_000_000)
    ap.add_argument("--no-billion", dest="billion", action="store_false")
    ap.add_argument("--live-seconds", type=int, default=600)
    ap.add_argument("--keep-data", action="store_true")
    ap.add_argument("--shrink", type=int, default=1, help="divide every scale by this (a smoke run of the script itself)")
    ap.add_argument("--out", default=os.path.join(ROOT, "BENCHMARKS.md"))
    args = ap.parse_args()
    cache = os.path.join(os.environ.get("STAVE_BENCH_CACHE", os.path.expanduser("~/.cache/stave-bench")), "scale")
    os.makedirs(cache, exist_ok=True)
    res = {}
    print("== high cardinality", flush=True)
    res["hc"] = high_cardinality(cache, args)
    print("== original shape", flush=True)
    res["orig"] = original_shape(cache, args)
    res["big"] = []
    for rows, customers in [(10_000_000, 100_000), (100_000_000, 1_000_000)]:
        rows, customers = rows // args.shrink, customers // args.shrink
        print(f"== {rows:,}", flush=True)
        res["big"].append(big(cache, args, rows, customers, 2_000_000 // args.shrink))
    if args.billion:
        print("== 1B", flush=True)
        res["billion"] = billion(cache, args)
    if args.live_seconds > 0:
        print("== live", flush=True)
        res["live"] = live(cache, args, res["big"][0]["store"], os.path.join(cache, f"r{res['big'][0]['rows']}", "tracks.csv"))
    json.dump(res, open(os.path.join(cache, "scale-results.json"), "w"), indent=1)
    if args.shrink > 1:
        print(json.dumps(res, indent=1))
        return
    # The plot: full profile, time per event, stave (whole process) and DuckDB (in-process).
    pts = {"stave (whole process)": [], "stave (in-process)": [], "DuckDB (in-process)": [], "chDB (in-process)": []}
    pts["stave (whole process)"].append((1_000_000, res["orig"]["profile (process)"] * 1e6 / 1_000_000))
    pts["stave (in-process)"].append((1_000_000, res["orig"]["profile in-process"] * 1e6 / 1_000_000))
    for s in res["big"]:
        q = s["queries"]["profile"]
        pts["stave (whole process)"].append((s["rows"], q["stave (process)"] * 1e6 / s["rows"]))
        pts["stave (in-process)"].append((s["rows"], q["stave in-process"] * 1e6 / s["rows"]))
        if "DuckDB in-process" in q:
            pts["DuckDB (in-process)"].append((s["rows"], q["DuckDB in-process"] * 1e6 / s["rows"]))
            pts["chDB (in-process)"].append((s["rows"], q["chDB in-process"] * 1e6 / s["rows"]))
    if "billion" in res:
        pts["stave (whole process)"].append((res["billion"]["rows"], res["billion"]["queries"]["profile"]["stave (process)"] * 1e6 / res["billion"]["rows"]))
    svg_plot({k: v for k, v in pts.items() if v}, os.path.join(ROOT, "docs", "scale.svg"))
    m, v = h.machine(), h.versions(argparse.Namespace(spark=False))
    import chdb
    v["chDB"] = chdb.__version__
    text = report(res, m, v)
    old = open(args.out).read() if os.path.exists(args.out) else ""
    if "<!-- scale:begin -->" in old:
        old = re.sub(r"<!-- scale:begin -->.*?<!-- scale:end -->\n", lambda _: text, old, flags=re.S)
    else:
        old += "\n" + text
    open(args.out, "w").write(old)
    print(text)
    if not args.keep_data:
        shutil.rmtree(cache, ignore_errors=True)


if __name__ == "__main__":
    main()
