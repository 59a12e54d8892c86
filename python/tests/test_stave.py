"""The Python package against the CLI on generated data.

Every query's table must equal the CLI's `--format arrow` answer to the
same question (schema and values); DuckDB SQL over `scan()` must equal
DuckDB over `stave export --format parquet`; errors must map to the
exception classes; many calls must not leak; threads must not interfere.

Runs against the installed package (python/run-tests installs it) and the
CLI at $STAVE_BIN (default .build/debug/stave).
"""

import concurrent.futures
import ctypes
import datetime
import os
import pathlib
import shutil
import subprocess
import sys

import duckdb
import polars as pl
import pyarrow as pa
import pytest

import stave

REPO = pathlib.Path(__file__).resolve().parents[2]
STAVE = os.environ.get("STAVE_BIN", str(REPO / ".build/debug/stave"))
ROWS, CUSTOMERS = 20_000, 500


# The CLI and the C compiler run without a preloaded library (scripts/sanitize
# preloads the AddressSanitizer runtime into the tests, which an ASan build
# of stave, with the runtime linked in, refuses).
CHILD_ENV = {k: v for k, v in os.environ.items() if k != "LD_PRELOAD"}


def cli(*args, check=True):
    return subprocess.run([STAVE, *map(str, args)], check=check, capture_output=True, env=CHILD_ENV)


def cli_arrow(*args):
    out = cli(*args, "--format", "arrow").stdout
    return pa.ipc.open_stream(out).read_all()


@pytest.fixture(scope="session")
def data(tmp_path_factory):
    d = tmp_path_factory.mktemp("stave")
    cli("generate", "--rows", ROWS, "--customers", CUSTOMERS, "--seed", 11, "-o", d / "gen")
    cli("convert", d / "gen/tracks.csv", "--customers", d / "gen/cust.csv", "-o", d / "music.stave", "--quiet")
    return d


@pytest.fixture(scope="session")
def store(data):
    with stave.open(data / "music.stave") as s:
        yield s


def cli_args(method, kwargs):
    """The CLI's command line for a Python call."""
    names = {"start": "--from", "end": "--to", "customers": "--customer", "level": "--level", "campaign": "--campaign",
             "gender": "--gender", "status": "--status", "sort": "--sort", "order": "--order", "limit": "--limit",
             "by": "--by", "per": "--per", "names": "--column-names"}
    command = {"top_zips": "top-zips"}.get(method, method)
    args = [command]
    kwargs = dict(kwargs)
    if method == "customer":
        return args, [kwargs.pop("id")] + sum(([names[k], v] for k, v in kwargs.items()), [])
    rest = []
    for k, v in kwargs.items():
        if k == "with_customers":
            rest.append("--with-customers")
        elif isinstance(v, (list, tuple)):
            rest += [names[k], ",".join(map(str, v))]
        else:
            rest += [names[k], str(v)]
    return args, rest


QUERIES = [
    ("profile", {}),
    ("profile", {"level": "Gold", "start": "2014-12-01"}),
    ("profile", {"with_customers": True, "sort": "plays", "order": "desc", "limit": 25}),
    ("profile", {"customers": [48, 49, 100, 7], "end": "2014-11-15 12:00"}),
    ("profile", {"campaign": ["SUPERBOWL", "WEBOFFER"], "status": 1, "names": "v1"}),
    ("stats", {}),
    ("stats", {"gender": 1, "start": "2014-11-01", "end": "2014-12-01"}),
    ("breakdown", {"by": "level"}),
    ("breakdown", {"by": "campaign", "start": "2014-12-01"}),
    ("breakdown", {"by": "gender"}),
    ("breakdown", {"by": "status", "level": "Free"}),
    ("breakdown", {"by": "linked_with_apps"}),
    ("breakdown", {"by": "sign_month"}),
    ("hours", {}),
    ("hours", {"by": "level", "per": "part"}),
    ("top_zips", {"limit": 5, "start": "2014-12-01"}),
    ("top_zips", {"limit": 40, "level": ["Silver", "Gold"]}),
    ("summary", {}),
    ("summary", {"status": 0, "names": "v1"}),
    ("customer", {"id": 48}),
    ("customer", {"id": 48, "start": "2014-12-01"}),
]


@pytest.mark.parametrize("method,kwargs", QUERIES, ids=[f"{m}-{i}" for i, (m, _) in enumerate(QUERIES)])
def test_query_equals_cli(data, store, method, kwargs):
    got = getattr(store, method)(**kwargs)
    command, rest = cli_args(method, kwargs)
    want = cli_arrow(*command, data / "music.stave", *rest)
    assert got.schema == want.schema
    assert got.num_rows == want.num_rows
    assert got.equals(want)


def test_profile_is_every_customer_and_goes_to_polars(store):
    t = store.profile()
    assert t.num_rows == CUSTOMERS
    df = pl.from_arrow(t)
    assert df["plays"].sum() == ROWS
    assert (df["plays"] == df["morning"] + df["afternoon"] + df["evening"] + df["night"]).all()


def test_pages_at_the_edges(store):
    whole = store.profile()
    assert store.profile(limit=2**63 - 1, offset=1).equals(whole.slice(1))
    assert store.profile(offset=10**9).num_rows == 0
    assert store.top_zips(limit=2**63 - 1).num_rows == store.top_zips(limit=100_000).num_rows


def test_bounds_as_dates_and_datetimes(store):
    assert store.profile(start=datetime.date(2014, 12, 1)).equals(store.profile(start="2014-12-01"))
    assert store.summary(end=datetime.datetime(2014, 11, 2, 10, 30)).equals(store.summary(end="2014-11-02T10:30:00"))
    with pytest.raises(stave.UsageError, match="time zone"):
        store.summary(start=datetime.datetime(2014, 12, 1, tzinfo=datetime.timezone.utc))


# -- scan

def test_scan_equals_parquet_export_in_duckdb(data, store, tmp_path):
    cli("export", data / "music.stave", "--format", "parquet", "-o", tmp_path / "all.parquet")
    reader = store.scan()
    assert reader.schema.names == ["event_id", "customer_id", "track_id", "datetime", "mobile", "listening_zip"]
    got = duckdb.sql("select * from reader order by event_id").fetchall()
    want = duckdb.sql(f"select * from read_parquet('{tmp_path / 'all.parquet'}') order by event_id").fetchall()
    assert len(got) == ROWS
    assert got == want
    # The types too: what DuckDB makes of each column.
    reader = store.scan()
    got_types = duckdb.sql("select * from reader limit 0").types
    want_types = duckdb.sql(f"select * from read_parquet('{tmp_path / 'all.parquet'}') limit 0").types
    assert [str(t) for t in got_types] == [str(t) for t in want_types]


def test_scan_with_range_and_customers_equals_filtered_export(data, store, tmp_path):
    out = tmp_path / "some.parquet"
    cli("export", data / "music.stave", "--format", "parquet", "-o", out,
        "--from", "2014-11-10", "--to", "2014-12-20 06:00", "--customer", ",".join(map(str, [3, 48] + list(range(100, 141)))))
    reader = store.scan(start="2014-11-10", end="2014-12-20 06:00", customers=[3, 48] + list(range(100, 141)))
    got = duckdb.sql("select customer_id, count(*), sum(mobile), min(datetime), max(listening_zip) "
                     "from reader group by 1 order by 1").fetchall()
    want = duckdb.sql(f"select customer_id, count(*), sum(mobile), min(datetime), max(listening_zip) "
                      f"from read_parquet('{out}') group by 1 order by 1").fetchall()
    assert got and got == want


def test_scan_columns_in_the_order_asked(store):
    full = store.scan().read_all()
    some = store.scan(columns=["listening_zip", "customer_id"]).read_all()
    assert some.schema.names == ["listening_zip", "customer_id"]
    assert some.column("listening_zip").equals(full.column("listening_zip"))
    assert some.column("customer_id").equals(full.column("customer_id"))
    df = pl.from_arrow(store.scan(columns=["mobile"], start="2014-12-01"))
    assert df.shape[1] == 1 and 0 < df.shape[0] < ROWS


def test_scan_outlives_its_store(data):
    s = stave.open(data / "music.stave")
    reader = s.scan(columns=["event_id"])
    s.close()
    assert reader.read_all().num_rows == ROWS


# -- errors

def test_missing_store_names_the_path(tmp_path):
    missing = tmp_path / "nothing.stave"
    with pytest.raises(stave.StoreError) as e:
        stave.open(missing)
    assert str(missing) in str(e.value) and e.value.code == 66


def test_damaged_store_is_an_error_not_an_answer(data, tmp_path):
    copy = tmp_path / "damaged.stave"
    shutil.copytree(data / "music.stave", copy)
    part = sorted(p for p in copy.iterdir() if p.name.startswith("part"))[0]
    raw = bytearray(part.read_bytes())
    raw[200] ^= 0xFF                        # in the event_id chunk of the first row group
    raw[len(raw) // 2] ^= 0xFF              # in a column the profile reads (datetime, by inspect's sizes)
    part.write_bytes(bytes(raw))
    with pytest.raises(stave.StoreError) as e:
        stave.open(copy).profile()
    assert part.name in str(e.value)
    # A scan finds the damage when it reaches the chunk, inside pyarrow's
    # read: pyarrow raises its OSError with stave's message.
    with pytest.raises(OSError, match=f"{part.name}: checksum mismatch in column event_id row group 0"):
        stave.open(copy).scan().read_all()


def test_bad_parameters_are_usage_errors(store):
    for call in (lambda: store.profile(level="Platinum"), lambda: store.profile(sort="nope"),
                 lambda: store.breakdown("shoe_size"), lambda: store.summary(start="2014-13-01"),
                 lambda: store.summary(start="2014-12-02", end="2014-12-01"), lambda: store.scan(columns=["x"]),
                 lambda: store.hours(per="minute"), lambda: store.profile(customers=[])):
        with pytest.raises(stave.UsageError) as e:
            call()
        assert isinstance(e.value, ValueError) and e.value.code == 64


def test_unknown_customer_is_not_found(store):
    with pytest.raises(stave.NotFoundError) as e:
        store.customer(10_000_000)
    assert isinstance(e.value, LookupError) and "10000000" in str(e.value)


def test_closed_store(data):
    s = stave.open(data / "music.stave")
    s.close()
    s.close()
    with pytest.raises(stave.UsageError, match="closed"):
        s.summary()


def test_convert_errors(data, tmp_path):
    bad = tmp_path / "bad.csv"
    lines = (data / "gen/tracks.csv").read_bytes().splitlines(keepends=True)
    bad.write_bytes(b"".join(lines[:2]) + b"1,2,3,not a date,0,12345\r\n")
    with pytest.raises(stave.InputError) as e:
        stave.convert(bad, tmp_path / "bad.stave")
    assert f"{bad}:3:" in str(e.value) and e.value.code == 65
    assert not (tmp_path / "bad.stave").exists()
    # --skip-bad-rows's rules: the row goes to the rejects file.
    summary = stave.convert(bad, tmp_path / "ok.stave", skip_bad_rows=True, rejects=tmp_path / "rejects.tsv")
    assert summary["rows"] == 2 and summary["rejected"] == 1
    assert (tmp_path / "rejects.tsv").read_text().startswith("3\t")
    with pytest.raises(stave.OutputExistsError):
        stave.convert(data / "gen/tracks.csv", tmp_path / "ok.stave")
    # force replaces a store, never a folder that is not one.
    keep = tmp_path / "precious"
    keep.mkdir()
    (keep / "thesis.txt").write_text("do not delete")
    with pytest.raises(stave.OutputExistsError):
        stave.convert(data / "gen/tracks.csv", keep, force=True)
    assert (keep / "thesis.txt").read_text() == "do not delete"
    with pytest.raises(stave.UsageError):
        stave.convert(data / "gen/tracks.csv", tmp_path / "x.stave", rejects="r.tsv")
    with pytest.raises(stave.StoreError):
        stave.convert(tmp_path / "no-such.csv", tmp_path / "y.stave")


# -- writing

def test_convert_then_append_equals_the_cli(data, tmp_path):
    lines = (data / "gen/tracks.csv").read_bytes().splitlines(keepends=True)
    half = len(lines) // 2
    (tmp_path / "a.csv").write_bytes(b"".join(lines[:half]))
    (tmp_path / "b.csv").write_bytes(b"".join(lines[half:]))
    summary = stave.convert(tmp_path / "a.csv", tmp_path / "s.stave", customers=data / "gen/cust.csv")
    assert summary["rows"] == half and summary["customers"] == CUSTOMERS
    with stave.open(tmp_path / "s.stave") as s:
        assert s.summary().column("plays")[0].as_py() == half
        added = s.append(tmp_path / "b.csv")
        assert added["rows"] == len(lines) - half
        # The next query sees the appended rows, and equals the CLI on the whole log.
        assert s.summary().column("plays")[0].as_py() == ROWS
        assert s.profile().equals(cli_arrow("profile", data / "music.stave"))
        # A repeated append is an error (its event ids are in the store) and adds nothing.
        with pytest.raises(stave.InputError, match="event"):
            s.append(tmp_path / "b.csv")
        assert s.summary().column("plays")[0].as_py() == ROWS


def test_a_store_sees_appends_by_other_processes(data, tmp_path):
    lines = (data / "gen/tracks.csv").read_bytes().splitlines(keepends=True)
    (tmp_path / "a.csv").write_bytes(b"".join(lines[:1000]))
    (tmp_path / "b.csv").write_bytes(b"".join(lines[1000:1500]))
    cli("convert", tmp_path / "a.csv", "-o", tmp_path / "live.stave", "--quiet")
    with stave.open(tmp_path / "live.stave") as s:
        assert s.summary().column("plays")[0].as_py() == 1000
        cli("append", tmp_path / "live.stave", tmp_path / "b.csv", "--quiet")
        assert s.summary().column("plays")[0].as_py() == 1500
        assert s.scan(columns=["event_id"]).read_all().num_rows == 1500


# -- resources and threads

def rss_bytes():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def test_ten_thousand_calls_leak_nothing(store):
    def calls(n):
        for i in range(n):
            if i % 4 == 0:
                store.scan(columns=["customer_id"], start="2014-12-30").read_all()
            elif i % 4 == 1:
                store.summary(level="Gold")
            else:
                store.profile(limit=50)
    calls(1_000)
    before = rss_bytes()
    calls(10_000)
    grown = rss_bytes() - before
    # A leaked result (a 50-row profile is 3 KB of buffers and structs)
    # 7,500 times would be 20 MB and more.
    assert grown < 8 * 1024 * 1024, f"RSS grew {grown / 1e6:.1f} MB over 10,000 calls"


def test_queries_from_many_threads_at_once(store):
    jobs = [("profile", {}), ("stats", {}), ("breakdown", {"by": "level"}), ("hours", {"by": "gender"}),
            ("top_zips", {"limit": 7}), ("summary", {"start": "2014-11-20"}), ("profile", {"level": "Silver"})]
    want = [getattr(store, m)(**k) for m, k in jobs]

    def run(i):
        m, k = jobs[i % len(jobs)]
        return i % len(jobs), getattr(store, m)(**k)

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        results = list(pool.map(run, range(8 * 25)))
    for k, table in results:
        assert table.equals(want[k])
    scans = list(concurrent.futures.ThreadPoolExecutor(4).map(lambda _: store.scan().read_all().num_rows, range(8)))
    assert scans == [ROWS] * 8


def test_close_while_other_threads_query(data):
    s = stave.open(data / "music.stave")
    done = []

    def query(_):
        try:
            return s.profile().num_rows
        except stave.UsageError:
            return "closed"
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        futures = [pool.submit(query, i) for i in range(40)]
        s.close()
        done = [f.result() for f in futures]
    assert all(d in (CUSTOMERS, "closed") for d in done)


# -- the C header

C_PROGRAM = r"""
#include <stdio.h>
#include <string.h>
#include "stave.h"

int main(int argc, char **argv) {
    stave_store *store = NULL;
    char *error = NULL;
    if (stave_open(argv[1], 0, &store, &error) != 0) { fprintf(stderr, "%s\n", error); return 1; }
    const char *names[] = {"by"}, *values[] = {"level"};
    struct ArrowArrayStream stream;
    if (stave_query(store, "breakdown", 1, names, values, &stream, &error) != 0) { fprintf(stderr, "%s\n", error); return 1; }
    struct ArrowSchema schema;
    struct ArrowArray batch;
    if (stream.get_schema(&stream, &schema) != 0 || stream.get_next(&stream, &batch) != 0) return 1;
    printf("%s %lld %s %lld\n", schema.format, (long long)schema.n_children, schema.children[0]->name, (long long)batch.length);
    batch.release(&batch);
    schema.release(&schema);
    stream.release(&stream);
    long long rows = 0;
    if (stave_scan(store, 0, NULL, NULL, &stream, &error) != 0) { fprintf(stderr, "%s\n", error); return 1; }
    for (;;) {
        if (stream.get_next(&stream, &batch) != 0) return 1;
        if (batch.release == NULL) break;
        rows += batch.length;
        batch.release(&batch);
    }
    stream.release(&stream);
    int code = stave_query(store, "profile", 1, (const char *[]){"level"}, (const char *[]){"Platinum"}, &stream, &error);
    printf("%lld %d %s\n", rows, code, error);
    stave_free(error);
    stave_close(store);
    return 0;
}
"""


@pytest.mark.skipif(shutil.which("cc") is None, reason="no C compiler")
def test_the_c_header_and_library_from_c(data, tmp_path):
    library = pathlib.Path(stave._native._library_path())
    (tmp_path / "main.c").write_text(C_PROGRAM)
    # --allow-shlib-undefined: an AddressSanitizer build of the library
    # (scripts/sanitize) leaves the runtime's symbols to the preloaded
    # runtime. The program's own references to stave_* must still resolve.
    subprocess.run(["cc", "-std=c11", "-Wall", "-Werror", "-I", REPO / "Sources/CStave", tmp_path / "main.c",
                    "-L", library.parent, "-l:" + library.name, "-Wl,-rpath," + str(library.parent),
                    "-Wl,--allow-shlib-undefined", "-o", tmp_path / "main"],
                   check=True, env=CHILD_ENV)
    out = subprocess.run([tmp_path / "main", data / "music.stave"], check=True, capture_output=True, text=True).stdout
    assert out.splitlines() == ["+s 11 level 3",
                                f"{ROWS} 64 level: 'Platinum' is not one of Free, Silver, Gold (or 0...2)"]


# -- the README

def test_the_readme_example_runs_as_written(data, tmp_path, capsys):
    text = (REPO / "README.md").read_text()
    section = text[text.index("## From Python"):]
    block = section[section.index("```python\n") + len("```python\n"):]
    block = block[:block.index("```")]
    lines = (data / "gen/tracks.csv").read_bytes().splitlines(keepends=True)
    (tmp_path / "tracks.csv").write_bytes(b"".join(lines[:15_000]))
    (tmp_path / "today.csv").write_bytes(b"".join(lines[15_000:]))
    shutil.copy(data / "gen/cust.csv", tmp_path / "cust.csv")
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        exec(compile(block, "README.md", "exec"), {})
    finally:
        os.chdir(cwd)
    out = capsys.readouterr().out
    assert out.rstrip().splitlines()[-1] == str(ROWS)
