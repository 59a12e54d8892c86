"""stave and the tools around it, on generated data:

- stave's Parquet (events, partitions, the customer table, query results)
  read back by DuckDB, PyArrow and Polars: the same rows and types;
- Parquet written by DuckDB, PyArrow and Spark (snappy, zstd, uncompressed,
  data pages v1 and v2, INT96 and INT64 timestamps, zips as strings or
  numbers) converted by stave: the same profile as from the CSV;
- Parquet stave cannot read: a clear error, exit 65;
- the Spark job (spark/profile_job.py, local mode) on the CSV and on stave's
  Parquet: byte for byte the output of `stave profile` and `stave stats`;
- Arrow IPC streams (`--format arrow`) read by pyarrow and Polars.

    STAVE_BIN=.build/debug/stave python Tests/Interop/interop_test.py
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

import duckdb
import polars as pl
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
STAVE = os.path.abspath(os.environ.get("STAVE_BIN", os.path.join(ROOT, ".build/debug/stave")))
COLUMNS = ["event_id", "customer_id", "track_id", "datetime", "mobile", "listening_zip"]


def run(*args, cwd, ok=True):
    r = subprocess.run([STAVE, *args], cwd=cwd, capture_output=True)
    if ok and r.returncode != 0:
        raise AssertionError(f"stave {' '.join(args)} exited {r.returncode}: {r.stderr.decode()}")
    return r


class InteropTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="stave-interop-")
        d = cls.dir
        run("generate", "--rows", "30000", "--customers", "400", "--seed", "5", "-o", "gen", "--quiet", cwd=d)
        run("convert", "gen/tracks.csv", "--customers", "gen/cust.csv", "-o", "m.stave", cwd=d)
        cls.profile = run("profile", "m.stave", "--format", "csv", cwd=d).stdout
        cls.stats = run("stats", "m.stave", "--format", "json", cwd=d).stdout
        cls.rows_csv = run("export", "m.stave", "--order", "event", "--no-header", cwd=d).stdout
        cls.spark = None

    @classmethod
    def tearDownClass(cls):
        if cls.spark is not None:
            cls.spark.stop()
        shutil.rmtree(cls.dir, ignore_errors=True)

    def path(self, name):
        return os.path.join(self.dir, name)

    def expected_rows(self):
        """Every event as a tuple, in event order, from stave's CSV export."""
        out = []
        for line in self.rows_csv.decode().splitlines():
            f = line.split(",")
            out.append((int(f[0]), int(f[1]), int(f[2]), f[3].strip('"'), int(f[4]), f[5].strip('"')))
        return out

    def assert_converts_to_same_profile(self, parquet, what):
        store = parquet + ".stave"
        shutil.rmtree(self.path(store), ignore_errors=True)
        r = run("convert", parquet, "-o", store, cwd=self.dir)
        self.assertIn(b"of Parquet into", r.stderr, what)
        self.assertEqual(run("profile", store, "--format", "csv", cwd=self.dir).stdout, self.profile, what)
        self.assertEqual(run("export", store, "--order", "event", "--no-header", cwd=self.dir).stdout, self.rows_csv, what)

    def spark_session(self):
        if InteropTest.spark is None:
            from pyspark.sql import SparkSession
            InteropTest.spark = (SparkSession.builder.master("local[2]").appName("stave-interop")
                                 .config("spark.sql.session.timeZone", "UTC").config("spark.ui.showConsoleProgress", "false")
                                 .config("spark.sql.shuffle.partitions", "4").getOrCreate())
            InteropTest.spark.sparkContext.setLogLevel("ERROR")
        return InteropTest.spark

    # stave -> others

    def test_events_parquet_reads_back_everywhere(self):
        run("export", "m.stave", "--format", "parquet", "-o", "ev.parquet", cwd=self.dir)
        want = self.expected_rows()
        f = pq.ParquetFile(self.path("ev.parquet"))
        schema = f.schema_arrow
        self.assertEqual(schema.names, COLUMNS)
        self.assertEqual([str(t) for t in schema.types], ["int64", "int64", "int64", "timestamp[us]", "int32", "string"])
        md = f.metadata.row_group(0)
        for k in range(6):
            self.assertEqual(md.column(k).compression, "ZSTD")
            self.assertTrue(md.column(k).statistics.has_min_max)
        got = duckdb.sql(f"select event_id, customer_id, track_id, strftime(datetime, '%Y-%m-%d %H:%M:%S'), mobile, listening_zip "
                         f"from '{self.path('ev.parquet')}' order by event_id").fetchall()
        self.assertEqual(got, want)
        t = pq.read_table(self.path("ev.parquet")).sort_by("event_id")
        got = list(zip(t["event_id"].to_pylist(), t["customer_id"].to_pylist(), t["track_id"].to_pylist(),
                       [d.strftime("%Y-%m-%d %H:%M:%S") for d in t["datetime"].to_pylist()], t["mobile"].to_pylist(),
                       t["listening_zip"].to_pylist()))
        self.assertEqual(got, want)
        self.assertTrue(any(z.startswith("0") for z in t["listening_zip"].to_pylist()), "no zip with a leading zero in the sample")
        df = pl.read_parquet(self.path("ev.parquet")).sort("event_id")
        self.assertEqual(df["customer_id"].to_list(), [w[1] for w in want])
        # And back into stave: the same store contents.
        self.assert_converts_to_same_profile("ev.parquet", "stave's own Parquet")

    def test_partitions_keep_each_customer_in_one_file(self):
        run("export", "m.stave", "--format", "parquet", "--partitions", "5", "-o", "parts", cwd=self.dir)
        files = sorted(os.listdir(self.path("parts")))
        self.assertEqual(files, [f"part-0000{k}.parquet" for k in range(5)])
        glob = self.path("parts") + "/*.parquet"
        n, spread = duckdb.sql(f"select count(*), max(files) from (select customer_id, count(distinct filename) files "
                               f"from read_parquet('{glob}', filename=true) group by customer_id)").fetchall()[0]
        self.assertEqual(spread, 1)
        self.assertEqual(duckdb.sql(f"select count(*) from '{glob}'").fetchall()[0][0], len(self.expected_rows()))
        self.assertTrue(run("export", "m.stave", "--format", "parquet", "--partitions", "5", "-o", "parts", cwd=self.dir, ok=False).returncode == 73)

    def test_customer_table_and_query_results(self):
        run("export", "m.stave", "--table", "customers", "--format", "parquet", "-o", "cust.parquet", cwd=self.dir)
        types = {r[0]: r[1] for r in duckdb.sql(f"describe select * from '{self.path('cust.parquet')}'").fetchall()}
        self.assertEqual(types["sign_date"], "DATE")
        self.assertEqual(types["zip"], "VARCHAR")
        want = [json.loads(l) for l in run("export", "m.stave", "--table", "customers", "--format", "ndjson", cwd=self.dir).stdout.splitlines()]
        got = pq.read_table(self.path("cust.parquet")).to_pylist()
        for g in got:
            g["sign_date"] = g["sign_date"].isoformat()
        self.assertEqual(got, want)
        # Query results: the profile and the stats.
        run("profile", "m.stave", "--format", "parquet", "-o", "prof.parquet", cwd=self.dir)
        prof = pq.read_table(self.path("prof.parquet"))
        csv = pacsv.read_csv(pa.py_buffer(self.profile))
        self.assertEqual(prof.to_pylist(), csv.to_pylist(), "profile Parquet differs from the CSV")
        self.assertEqual([str(t) for t in prof.schema.types], ["int64"] * 8)
        run("stats", "m.stave", "--format", "parquet", "-o", "stats.parquet", cwd=self.dir)
        stats = {r["column"]: r for r in pq.read_table(self.path("stats.parquet")).to_pylist()}
        for col, s in json.loads(self.stats).items():
            for k, v in s.items():
                self.assertEqual(stats[col][k], v, f"{col}.{k}")

    def test_arrow_streams(self):
        r = run("profile", "m.stave", "--format", "arrow", cwd=self.dir).stdout
        t = pa.ipc.open_stream(r).read_all()
        self.assertEqual(t.to_pylist(), pacsv.read_csv(pa.py_buffer(self.profile)).to_pylist())
        self.assertEqual([str(x) for x in t.schema.types], ["int64"] * 8)
        self.assertEqual(pl.read_ipc_stream(r).shape, (t.num_rows, 8))
        # Nulls: customers missing from the customer table have no attributes.
        with open(self.path("gen/cust.csv"), newline="") as f:
            lines = f.read().split("\r\n")
        with open(self.path("cust-part.csv"), "w", newline="") as f:
            f.write("\r\n".join(lines[:1] + [l for k, l in enumerate(lines[1:]) if k % 9 != 0]))
        shutil.rmtree(self.path("part.stave"), ignore_errors=True)
        run("convert", "gen/tracks.csv", "--customers", "cust-part.csv", "-o", "part.stave", cwd=self.dir)
        r = run("profile", "part.stave", "--with-customers", "--format", "arrow", cwd=self.dir).stdout
        t = pa.ipc.open_stream(r).read_all()
        want = [json.loads(l) for l in run("profile", "part.stave", "--with-customers", "--format", "ndjson", cwd=self.dir).stdout.splitlines()]
        self.assertEqual(t.to_pylist(), want)
        self.assertGreater(t["name"].null_count, 0)
        s = pa.ipc.open_stream(run("stats", "m.stave", "--format", "arrow", cwd=self.dir).stdout).read_all()
        self.assertEqual(s.column_names[:3], ["column", "count", "mean"])
        self.assertEqual(s.schema.field("mean").type, pa.float64())

    # others -> stave

    def test_duckdb_and_pyarrow_parquet_convert(self):
        csv = self.path("gen/tracks.csv")
        read = f"read_csv('{csv}', header=false, names={COLUMNS}, types={{'listening_zip': 'VARCHAR'}})"
        for codec in ["snappy", "zstd", "uncompressed"]:
            duckdb.sql(f"copy (select * from {read}) to '{self.path('duck-' + codec + '.parquet')}' (format parquet, compression {codec})")
            self.assert_converts_to_same_profile("duck-" + codec + ".parquet", "DuckDB " + codec)
        t = pacsv.read_csv(csv, read_options=pacsv.ReadOptions(column_names=COLUMNS),
                           convert_options=pacsv.ConvertOptions(column_types={"listening_zip": pa.string()}))
        variants = {
            "arrow-snappy": dict(), "arrow-zstd": dict(compression="zstd"), "arrow-none": dict(compression="none"),
            "arrow-v2": dict(data_page_version="2.0", compression="zstd"), "arrow-plain": dict(use_dictionary=False),
            "arrow-small-pages": dict(data_page_size=4096, row_group_size=7000),
        }
        for name, kw in variants.items():
            pq.write_table(t, self.path(name + ".parquet"), **kw)
            self.assert_converts_to_same_profile(name + ".parquet", name)
        # Zips read as numbers (leading zeros lost) and datetimes in milliseconds: still the same events.
        t2 = pacsv.read_csv(csv, read_options=pacsv.ReadOptions(column_names=COLUMNS))
        t2 = t2.set_column(3, "datetime", t2["datetime"].cast(pa.timestamp("ms")))
        self.assertEqual(t2.schema.field("listening_zip").type, pa.int64())
        pq.write_table(t2, self.path("arrow-numbers.parquet"))
        self.assert_converts_to_same_profile("arrow-numbers.parquet", "numeric zips, ms timestamps")

    def test_spark_parquet_converts(self):
        spark = self.spark_session()
        from pyspark.sql import types as T
        schema = T.StructType([T.StructField("event_id", T.LongType()), T.StructField("customer_id", T.LongType()),
                               T.StructField("track_id", T.LongType()), T.StructField("datetime", T.TimestampType()),
                               T.StructField("mobile", T.IntegerType()), T.StructField("listening_zip", T.StringType())])
        df = spark.read.csv(self.path("gen/tracks.csv"), schema=schema, timestampFormat="yyyy-MM-dd HH:mm:ss")
        df.write.parquet(self.path("spark-int96"))            # Spark's defaults: snappy, INT96 timestamps
        for f in sorted(os.listdir(self.path("spark-int96"))):
            if f.endswith(".parquet"):
                md = pq.ParquetFile(os.path.join(self.path("spark-int96"), f)).metadata
                self.assertEqual(md.schema.column(3).physical_type, "INT96")
                break
        spark.conf.set("spark.sql.parquet.outputTimestampType", "TIMESTAMP_MICROS")
        df.coalesce(1).write.option("compression", "zstd").parquet(self.path("spark-micros"))
        for d in ["spark-int96", "spark-micros"]:
            parts = sorted(f for f in os.listdir(self.path(d)) if f.endswith(".parquet"))
            store = d + ".stave"
            shutil.rmtree(self.path(store), ignore_errors=True)
            run("convert", os.path.join(d, parts[0]), "-o", store, cwd=self.dir)
            for p in parts[1:]:
                run("append", store, os.path.join(d, p), cwd=self.dir)
            self.assertEqual(run("profile", store, "--format", "csv", cwd=self.dir).stdout, self.profile, d)

    def test_unreadable_parquet_is_a_clear_error(self):
        t = pq.read_table(self.path("ev.parquet")) if os.path.exists(self.path("ev.parquet")) else None
        if t is None:
            run("export", "m.stave", "--format", "parquet", "-o", "ev.parquet", cwd=self.dir)
            t = pq.read_table(self.path("ev.parquet"))
        cases = []
        pq.write_table(t, self.path("gzip.parquet"), compression="gzip")
        cases.append(("gzip.parquet", "compression GZIP is not supported"))
        pq.write_table(t.drop_columns(["mobile"]), self.path("no-mobile.parquet"))
        cases.append(("no-mobile.parquet", "no column 'mobile'"))
        nulls = t.set_column(2, "track_id", pa.array([None] + t["track_id"].to_pylist()[1:], pa.int64()))
        pq.write_table(nulls, self.path("nulls.parquet"))
        cases.append(("nulls.parquet", "track_id is null"))
        pq.write_table(t.set_column(3, "datetime", t["datetime"].cast(pa.date32())), self.path("date.parquet"))
        cases.append(("date.parquet", "column 'datetime' is INT32"))
        with open(self.path("ev.parquet"), "rb") as f:
            data = f.read()
        with open(self.path("truncated.parquet"), "wb") as f:
            f.write(data[: len(data) // 2])
        cases.append(("truncated.parquet", "truncated or not a Parquet file"))
        for name, message in cases:
            r = run("convert", name, "-o", name + ".stave", cwd=self.dir, ok=False)
            self.assertEqual(r.returncode, 65, f"{name}: {r.stderr.decode()}")
            self.assertIn(message, r.stderr.decode(), name)
            self.assertFalse(os.path.exists(self.path(name + ".stave")), name)
        # --skip-bad-rows: the null row goes to the rejects file with its row number.
        r = run("convert", "nulls.parquet", "-o", "nulls-ok.stave", "--skip-bad-rows", "--rejects", "rejects.txt", cwd=self.dir)
        with open(self.path("rejects.txt")) as f:
            self.assertEqual(f.read().split("\t")[:3], ["1", "3", "track_id is null"])

    # The Spark job

    def test_spark_job_agrees_with_stave_to_the_last_digit(self):
        job = os.path.join(ROOT, "spark", "profile_job.py")
        run("export", "m.stave", "--format", "parquet", "--partitions", "3", "-o", "job-parts", cwd=self.dir)
        for name, source in [("csv", "gen/tracks.csv"), ("parquet", "job-parts")]:
            r = subprocess.run([sys.executable, job, "--master", "local[2]", "--partitions", "4", "--input", self.path(source),
                                "--profile", self.path(f"job-{name}.csv"), "--stats", self.path(f"job-{name}.json")],
                               capture_output=True, text=True)
            self.assertEqual(r.returncode, 0, r.stderr[-3000:])
            with open(self.path(f"job-{name}.csv"), "rb") as f:
                self.assertEqual(f.read(), self.profile, f"Spark profile from {name}")
            with open(self.path(f"job-{name}.json"), "rb") as f:
                self.assertEqual(f.read(), self.stats, f"Spark stats from {name}")


if __name__ == "__main__":
    unittest.main(verbosity=2)
