"""stave's profile and column statistics as a Spark job, for when one machine
is not enough. It computes exactly what `stave profile` and `stave stats`
compute, and writes the same bytes:

  live_table: customer_id,unique_tracks,morning,afternoon,evening,night,
              mobile_plays,plays, one line per customer, by id
  agg_table:  per column count, mean, variance (sample, n - 1), stddev, min,
              max, num_nonzeros, norm_l1, norm_l2, as `stave stats --format json`

Parts of the day by the hour written in the datetime: night < 05 or >= 22,
morning 05-11, afternoon 12-16, evening 17-21.

Input: tracks.csv as exported (no header, datetime and zip quoted; --header
if it has one) or Parquet (stave's `export --format parquet`, a file or a
directory of partitions, or any Parquet with the same six columns).

The statistics are computed from exact integer aggregates (sums and sums of
squares as DECIMAL(38,0)), then rounded once on the driver with the same
IEEE operations stave uses, so the doubles agree to the last bit (MLlib's
colStats sums in floating point and may differ in the last digits).

  spark-submit spark/profile_job.py --input tracks.csv --profile live_table.csv --stats agg_table.json
  spark-submit --master yarn spark/profile_job.py --input hdfs:///music/parquet/ --profile ... --stats ...
"""
import argparse
import math
import sys

from pyspark.sql import SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

COLUMNS = ["unique_tracks", "morning", "afternoon", "evening", "night", "mobile_plays", "plays"]
CSV_SCHEMA = T.StructType([
    T.StructField("event_id", T.LongType(), False),
    T.StructField("customer_id", T.LongType(), False),
    T.StructField("track_id", T.LongType(), False),
    T.StructField("datetime", T.StringType(), False),
    T.StructField("mobile", T.IntegerType(), False),
    T.StructField("listening_zip", T.StringType(), False),
])


def events(spark, path, fmt, header):
    """The events with `hour` (0-23, as written in the datetime)."""
    if fmt == "parquet" or (fmt == "auto" and (path.endswith(".parquet") or not path.endswith(".csv"))):
        df = spark.read.parquet(path)
        # A TIMESTAMP (NTZ, as stave writes it) or a string: the wall-clock hour either way.
        dt = dict(df.dtypes)["datetime"]
        hour = F.hour("datetime") if dt.startswith("timestamp") else F.substring("datetime", 12, 2).cast("int")
    else:
        df = spark.read.csv(path, schema=CSV_SCHEMA, header=header, quote='"', mode="FAILFAST")
        hour = F.substring("datetime", 12, 2).cast("int")
    return df.select("customer_id", "track_id", F.col("mobile").cast("long").alias("mobile"), hour.alias("hour"))


def profile(ev):
    part = lambda lo, hi: F.sum(F.when((F.col("hour") >= lo) & (F.col("hour") < hi), 1).otherwise(0)).cast("long")
    return (ev.groupBy("customer_id").agg(
        F.countDistinct("track_id").cast("long").alias("unique_tracks"),
        part(5, 12).alias("morning"),
        part(12, 17).alias("afternoon"),
        part(17, 22).alias("evening"),
        F.sum(F.when((F.col("hour") < 5) | (F.col("hour") >= 22), 1).otherwise(0)).cast("long").alias("night"),
        F.sum("mobile").cast("long").alias("mobile_plays"),
        F.count(F.lit(1)).cast("long").alias("plays"),
    ).orderBy("customer_id"))


def exact_aggregates(prof):
    """Per column: n, sum, sum of squares (exact), min, max, non-zeros."""
    dec = T.DecimalType(38, 0)
    aggs = [F.count(F.lit(1)).alias("n")]
    for c in COLUMNS:
        x = F.col(c).cast(dec)
        aggs += [F.sum(x).alias(c + "_s"), F.sum(x * x).alias(c + "_q"), F.min(c).alias(c + "_lo"),
                 F.max(c).alias(c + "_hi"), F.sum(F.when(F.col(c) != 0, 1).otherwise(0)).cast("long").alias(c + "_nz")]
    return prof.agg(*aggs).collect()[0]


def shortest(x):
    """A double in shortest round-trip form, as stave (Swift) writes it."""
    if math.isnan(x) or math.isinf(x):
        return "null"
    return repr(float(x))


def stats_json(row):
    """The bytes of `stave stats --format json`. Each double is the same IEEE
    operation on the same exactly-known operands as in stave's StatsKernel."""
    n = int(row["n"])
    lines = []
    for c in COLUMNS:
        s = int(row[c + "_s"] or 0)
        q = int(row[c + "_q"] or 0)
        fields = [("count", str(n))]
        if n == 0:
            fields += [("mean", "null"), ("variance", "null"), ("stddev", "null"), ("min", "null"), ("max", "null")]
        else:
            mean = float(s) / float(n)
            variance = float(n * q - s * s) / (float(n) * float(n - 1)) if n > 1 else 0.0
            fields += [("mean", shortest(mean)), ("variance", shortest(variance)), ("stddev", shortest(math.sqrt(variance))),
                       ("min", str(int(row[c + "_lo"]))), ("max", str(int(row[c + "_hi"])))]
        fields += [("num_nonzeros", str(int(row[c + "_nz"] or 0))), ("norm_l1", shortest(float(s))), ("norm_l2", shortest(math.sqrt(float(q))))]
        lines.append(f'  "{c}": {{' + ", ".join(f'"{k}": {v}' for k, v in fields) + "}")
    return "{\n" + ",\n".join(lines) + "\n}\n"


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--input", required=True, help="tracks.csv, or Parquet (a file or a directory)")
    ap.add_argument("--format", choices=["auto", "csv", "parquet"], default="auto")
    ap.add_argument("--header", action="store_true", help="the CSV has a header line")
    ap.add_argument("--profile", help="write the profile (live_table) here, as CSV")
    ap.add_argument("--stats", help="write the column statistics (agg_table) here, as JSON")
    ap.add_argument("--master", help="Spark master when not given by spark-submit (e.g. local[2])")
    ap.add_argument("--partitions", type=int, help="shuffle partitions (spark.sql.shuffle.partitions; default: Spark's, 200; a few per core suits one machine)")
    args = ap.parse_args(argv)
    builder = SparkSession.builder.appName("stave-profile")
    if args.master:
        builder = builder.master(args.master)
    builder = builder.config("spark.sql.session.timeZone", "UTC").config("spark.ui.showConsoleProgress", "false")
    if args.partitions:
        builder = builder.config("spark.sql.shuffle.partitions", str(args.partitions))
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    prof = profile(events(spark, args.input, args.format, args.header)).cache()
    if args.profile:
        with open(args.profile, "w") as f:
            f.write("customer_id," + ",".join(COLUMNS) + "\n")
            for r in prof.toLocalIterator():
                f.write(",".join(str(r[k]) for k in ["customer_id"] + COLUMNS) + "\n")
    if args.stats:
        with open(args.stats, "w") as f:
            f.write(stats_json(exact_aggregates(prof)))
    spark.stop()


if __name__ == "__main__":
    main(sys.argv[1:])
