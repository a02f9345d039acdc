#!/usr/bin/env python3
"""A Hadoop-Streaming-style job on Apache Spark: shell commands as mapper, combiner and
reducer, with Spark doing the shuffle. batchkit's binaries are meant to be those commands.

    python3 scripts/spark/streaming.py \\
        --mapper 'bmap --words' --combiner 'breduce count' --reducer 'breduce sum:2' \\
        --partitions 4 --input corpus.txt --output counts/

    spark-submit --master yarn scripts/spark/streaming.py \\
        --ship dist/batchkit-0.1.0-x86_64-linux.tar.gz ...   # on a cluster without batchkit

What it does, in Spark SQL terms (records stay in the JVM between commands):

  input lines --TRANSFORM(mapper)--> [sort each map task's output by key
  --TRANSFORM(combiner)] --> repartition(N, key) or repartitionByRange(N, key)
  --> sortWithinPartitions(key, line) --TRANSFORM(reducer)--> part-00000 ... + _SUCCESS

* The key is the text up to the first TAB (all of a line without one), as in Hadoop
  Streaming. Keys are compared as UTF-8 bytes, the order of `LC_ALL=C sort`; equal keys are
  ordered by the whole line, so a reducer's input is the same on every run and retry.
* Each command runs once per partition under `/bin/bash -c`, fed the whole partition on
  stdin, one line per record. Spark does not start it for an empty partition.
* Without --reducer (or with `--reducer NONE`) the job is map-only: one part file per map
  task, no shuffle (Hadoop's -numReduceTasks 0).
* --total-order range-partitions by key (sampled split points), so that the part files,
  concatenated in name order, are sorted by key (TeraSort); otherwise partitions are by
  Spark's hash of the key (Murmur3; Hadoop uses Text.hashCode: the same key lands in a
  different part file on each engine, the concatenated output sorted is the same).
* Environment: every command runs with `export PATH=...` (the runner's own PATH unless
  --env PATH=... says otherwise) and each --env NAME[=VALUE] (VALUE defaults to the
  runner's own) in front of it, so the same line works in local mode and on executors.
* A command that exits non-zero, or leaves its stdin unread, fails its task and the job:
  the runner prints `streaming: STAGE failed (status N): <the command's stderr tail>`
  and exits 1. Spark keeps only the last 2 KB of stderr, and only of a failed command.
* Local output directories get exactly N files `part-00000`... (empty ones included) and a
  JSON `_SUCCESS` manifest written last, staged beside DIR and renamed into place whole; an
  existing non-empty DIR is an error unless --force. Other file systems (hdfs://, s3a://)
  get Spark's own part names and empty `_SUCCESS`.
* --ship BUNDLE sends the release bundle of `scripts/package.sh` (statically linked, so it
  runs on any x86_64 Linux executor) with the job, as spark-submit's --archives would
  (`SparkContext.addArchive`, unpacked as `batchkit/` beside each task), and puts its
  `bin/` first on every command's PATH: executors need no batchkit installed. In local
  mode the tasks find the bundle where the driver unpacked it.
* Records are UTF-8 text ending in `\\n` (invalid bytes become U+FFFD); `\\r` is kept.
* Run directly (`python3 streaming.py`, master local[2] unless --master) it is quiet,
  offline and bound to 127.0.0.1, without UI; under spark-submit the cluster's settings
  apply and only the job's own options are set.

Exit status: 0 success; 1 the job failed; 2 bad arguments.
"""

import argparse
import json
import os
import re
import shutil
import sys
import tempfile
import time

PROG = "streaming"
STAGE_TAG = "batchkit-streaming-stage: "


def fail(msg, code=1):
    print(f"{PROG}: {msg}", file=sys.stderr)
    sys.exit(code)


def parse_args(argv):
    p = argparse.ArgumentParser(
        prog=PROG,
        description="Run a Hadoop-Streaming-style job (mapper | shuffle by key | sort | reducer) on Spark.",
        epilog="""Examples:
  streaming.py --mapper 'bmap --words' --reducer 'breduce count' --partitions 4 \\
      --input corpus.txt --output counts/
  streaming.py --mapper cat --reducer 'breduce sum:2' --combiner 'breduce sum:2' \\
      --partitions 8 --input 'logs/*.tsv.gz' --output totals/ --force
  streaming.py --ship dist/batchkit-0.1.0-x86_64-linux.tar.gz --env PATH=/usr/bin:/bin \\
      --mapper 'bmap --words' --reducer 'breduce count' --input corpus.txt --output counts/
  streaming.py --mapper 'bsort -u' --input big.txt --output uniq-parts/   # map-only
  streaming.py --mapper cat --reducer cat --total-order --partitions 4 \\
      --input kv.tsv --output sorted/   # cat sorted/part-* is sorted by key
""",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--mapper", required=True, help="shell command run on each input split")
    p.add_argument("--reducer", help="shell command run on each key-sorted partition; NONE or absent: map-only")
    p.add_argument("--combiner", help="shell command run on each map task's key-sorted output before the shuffle")
    p.add_argument("--partitions", type=int, default=1, metavar="N", help="number of reduce partitions (default 1)")
    p.add_argument("--input", required=True, action="append", metavar="PATH",
                   help="input file, directory or glob (repeatable; .gz/.bz2 read transparently)")
    p.add_argument("--output", required=True, metavar="DIR", help="output directory")
    p.add_argument("--total-order", action="store_true",
                   help="range-partition by key so that the parts concatenate into one sorted output")
    p.add_argument("--env", action="append", default=[], metavar="NAME[=VALUE]",
                   help="export this variable to every command (VALUE: the runner's own by default)")
    p.add_argument("--ship", metavar="BUNDLE",
                   help="a release bundle (scripts/package.sh's .tar.gz) to send to the executors and put first on PATH")
    p.add_argument("--force", action="store_true", help="replace an existing non-empty output directory")
    p.add_argument("--master", help="Spark master when run directly (default local[2])")
    p.add_argument("--quiet", action="store_true", help="print nothing on success (default: one summary line on stderr)")
    a = p.parse_args(argv)
    if a.partitions < 1:
        p.error("--partitions must be at least 1")
    if a.reducer == "NONE":
        a.reducer = None
    if a.combiner and not a.reducer:
        p.error("--combiner needs a --reducer")
    if a.ship is not None:
        if not re.search(r"\.(tar\.gz|tgz|tar|zip)$", a.ship):
            p.error(f"--ship {a.ship}: not a .tar.gz, .tgz, .tar or .zip bundle")
        if not os.path.isfile(a.ship):
            p.error(f"--ship {a.ship}: no such file")
    return a


def shell_quote(s):
    return "'" + s.replace("'", "'\\''") + "'"


def env_prefix(specs):
    """`export NAME='value';` for PATH and each --env, in front of every command."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
    for spec in specs:
        name, eq, value = spec.partition("=")
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
            fail(f"--env {spec}: not a variable name", 2)
        if not eq:
            if name not in os.environ:
                fail(f"--env {name}: not set in the runner's environment", 2)
            value = os.environ[name]
        env[name] = value
    return "".join(f"export {k}={shell_quote(v)}; " for k, v in env.items())


SHIP_NAME = "batchkit"


def ship(spark, bundle):
    """Send the bundle with the job, and return the shell line that puts its bin/ first on
    PATH: beside the task (cluster executors unpack archives in their working directory),
    else where this driver unpacked it (local mode: the tasks run in the driver's JVM)."""
    from pyspark import SparkFiles

    spark.sparkContext.addArchive(os.path.abspath(bundle) + "#" + SHIP_NAME)
    driver_root = SparkFiles.getRootDirectory()
    dirs = " ".join(
        [f"./{SHIP_NAME}/*/bin", f"{shell_quote(os.path.join(driver_root, SHIP_NAME))}/*/bin"]
    )
    return (
        f"for __b in {dirs}; do if [ -x \"$__b/bsort\" ]; then PATH=\"$__b:$PATH\"; "
        f"export PATH; break; fi; done; "
        f"command -v bsort >/dev/null || {{ echo 'batchkit-streaming: the shipped bundle has no bin/bsort' >&2; exit 127; }}; "
    )


def sql_string(s):
    """A Spark SQL string literal: backslashes and quotes are escaped."""
    return "'" + s.replace("\\", "\\\\").replace("'", "\\'") + "'"


def transform(spark, df, stage, command, prefix):
    """Pipe each partition of df (one column of whole lines) through `command`, keeping
    whole output lines: one output column, fields terminated by \\n (TRANSFORM otherwise
    splits on TAB and keeps two columns). A failing command's stderr ends with a line
    naming its stage, which the runner finds in Spark's 2 KB stderr tail."""
    view = f"batchkit_stage_{transform.count}"
    transform.count += 1
    df.createOrReplaceTempView(view)
    row_format = "ROW FORMAT DELIMITED FIELDS TERMINATED BY '\\n' LINES TERMINATED BY '\\n'"
    # After a failure the rest of the partition is read and dropped: otherwise Spark's
    # writer thread may hit the closed pipe first and report only "Broken pipe", losing
    # the command's status and stderr. A command that exits 0 early still fails the task.
    script = (
        f"{prefix}{command}\n"
        f"__status=$?; if [ $__status -ne 0 ]; then echo '{STAGE_TAG}{stage}' >&2; "
        f"cat >/dev/null; fi; exit $__status"
    )
    return spark.sql(
        f"SELECT TRANSFORM(line) {row_format} USING {sql_string(script)} "
        f"AS (line STRING) {row_format} FROM {view}"
    )


transform.count = 0


def local_dir(path):
    """The local path of DIR, or None when it lives on another file system."""
    if path.startswith("file:"):
        return re.sub(r"^file:(//)?", "", path)
    if re.match(r"^[A-Za-z][A-Za-z0-9+.-]*://", path):
        return None
    return path


def log4j_file(tmp):
    path = os.path.join(tmp, "log4j2.properties")
    with open(path, "w") as f:
        f.write(
            "rootLogger.level = off\n"
            "rootLogger.appenderRef.stderr.ref = console\n"
            "appender.console.type = Console\n"
            "appender.console.name = console\n"
            "appender.console.target = SYSTEM_ERR\n"
            "appender.console.layout.type = PatternLayout\n"
            "appender.console.layout.pattern = %d{HH:mm:ss} %p %c{1}: %m%n%ex\n"
            "logger.spark.name = org.apache.spark\n"
            "logger.spark.level = off\n"
            "logger.jetty.name = org.sparkproject.jetty\n"
            "logger.jetty.level = off\n"
            "logger.hadoop.name = org.apache.hadoop\n"
            "logger.hadoop.level = off\n"
        )
    return path


def session(args, tmp):
    from pyspark.sql import SparkSession

    b = SparkSession.builder.appName("batchkit-streaming")
    # Fewer reducers than requested would mean fewer part files: no coalescing.
    b = b.config("spark.sql.adaptive.enabled", "false")
    b = b.config("spark.sql.shuffle.partitions", str(args.partitions))
    if "PYSPARK_GATEWAY_PORT" in os.environ:
        return b.getOrCreate()  # under spark-submit: its settings (the cluster's) apply
    # Run directly: local, quiet, offline and loopback-only.
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    b = b.master(args.master or "local[2]")
    for k, v in {
        "spark.driver.host": "127.0.0.1",
        "spark.driver.bindAddress": "127.0.0.1",
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
        "spark.local.dir": os.path.join(tmp, "local"),
        "spark.sql.warehouse.dir": os.path.join(tmp, "warehouse"),
        "spark.driver.extraJavaOptions": f"-Dlog4j2.configurationFile=file:{log4j_file(tmp)}",
    }.items():
        b = b.config(k, v)
    return b.getOrCreate()


def explain_failure(e):
    """The failed stage, the command's status and its stderr tail, out of Spark's
    exception text (`Subprocess exited with status N. Error: TAIL\n.`)."""
    text = str(e)
    m = re.search(r"Subprocess exited with status (\d+)\. Error: (.*?)\n\.(?:\n|$)", text, re.S)
    if m:
        lines = m.group(2).strip().splitlines()
        stage = "a command"
        if lines and lines[-1].startswith(STAGE_TAG):
            stage = lines.pop()[len(STAGE_TAG):]
        tail = "\n".join(lines[-20:]).strip() or "(no stderr)"
        return f"{stage} failed (status {m.group(1)}): {tail}"
    m = re.search(r"(Broken pipe|Stream closed)", text)
    if m:
        return f"a command stopped reading its input ({m.group(1)}); it must read stdin to the end"
    first = next((line for line in text.splitlines() if line.strip()), "unknown error")
    return f"job failed: {first[:500]}"


def finish_local(staging, out, n, method, force, reducer):
    """Give Spark's part files the names part-NNNNN (by partition index), add the missing
    empty ones, write the _SUCCESS manifest last, and move the directory into place."""
    parts = {}
    for name in os.listdir(staging):
        m = re.match(r"part-(\d+)-", name)
        if m:
            idx = int(m.group(1))
            if idx in parts:  # one file per partition is all Spark writes here
                fail(f"two files for partition {idx} in {staging}")
            parts[idx] = name
        elif name not in ("_SUCCESS",) and not name.startswith((".", "_")):
            fail(f"unexpected file {name} in Spark's output")
    count = n if reducer else (max(parts) + 1 if parts else 0)
    manifest_parts = []
    records_total = bytes_total = 0
    for i in range(count):
        final = os.path.join(staging, f"part-{i:05d}")
        if i in parts:
            os.rename(os.path.join(staging, parts[i]), final)
        else:
            open(final, "wb").close()
        size = os.path.getsize(final)
        with open(final, "rb") as f:
            records = sum(chunk.count(b"\n") for chunk in iter(lambda: f.read(1 << 20), b""))
        manifest_parts.append({"bytes": size, "name": f"part-{i:05d}", "records": records})
        records_total += records
        bytes_total += size
    for name in os.listdir(staging):
        if not name.startswith("part-"):
            os.remove(os.path.join(staging, name))
    manifest = {
        "bytes": bytes_total,
        "partitioning": {
            "key": ["1"],
            "method": method,
            "n": count,
            "partition_function": None if method == "map-only" else
            ("spark range partitioning on the key" if method == "range" else "spark murmur3 hash of the key"),
        },
        "parts": manifest_parts,
        "parts_in_key_order": method == "range",
        "records": records_total,
        "sorted": None,
        "tool": "streaming.py (spark)",
        "version": "0.1.0",
    }
    with open(os.path.join(staging, "_SUCCESS"), "w") as f:
        json.dump(manifest, f, indent=2, sort_keys=True)
        f.write("\n")
    if os.path.exists(out):
        if force:
            shutil.rmtree(out)
        else:
            os.rmdir(out)  # empty (checked before the job)
    os.rename(staging, out)
    return records_total, bytes_total


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    started = time.time()
    prefix = env_prefix(args.env)
    out_local = local_dir(args.output)
    if out_local is not None:
        out_local = os.path.abspath(out_local)
        if os.path.isdir(out_local) and os.listdir(out_local) and not args.force:
            fail(f"{args.output}: output directory exists and is not empty (use --force)", 2)
        if os.path.exists(out_local) and not os.path.isdir(out_local):
            fail(f"{args.output}: exists and is not a directory", 2)
        parent = os.path.dirname(out_local) or "."
        if not os.path.isdir(parent):
            fail(f"{args.output}: no such parent directory", 2)
    for path in args.input:
        if local_dir(path) is not None and not re.search(r"[*?\[]", path) and not os.path.exists(path):
            fail(f"cannot read {path}: No such file or directory", 2)

    tmp = tempfile.mkdtemp(prefix="batchkit-spark-")
    staging = None
    try:
        spark = session(args, tmp)
        from pyspark.sql import functions as F

        if args.ship is not None:
            prefix += ship(spark, args.ship)

        # One row per line, whole: lineSep \n keeps \r, and no schema inference.
        df = spark.read.option("lineSep", "\n").text(args.input).withColumnRenamed("value", "line")
        mapped = transform(spark, df, "mapper", args.mapper, prefix)
        key = F.substring_index(F.col("line"), "\t", 1)
        if args.reducer is None:
            result, method = mapped, "map-only"
        else:
            if args.combiner:
                combined_in = mapped.sortWithinPartitions(key, F.col("line"))
                mapped = transform(spark, combined_in, "combiner", args.combiner, prefix)
            if args.total_order:
                shuffled, method = mapped.repartitionByRange(args.partitions, key), "range"
            else:
                shuffled, method = mapped.repartition(args.partitions, key), "hash"
            result = transform(spark, shuffled.sortWithinPartitions(key, F.col("line")), "reducer", args.reducer, prefix)

        if out_local is None:
            target = args.output
        else:
            staging = f"{out_local}.spark-staging-{os.getpid()}"
            target = "file://" + staging
        try:
            result.write.option("lineSep", "\n").text(target)
        except Exception as e:  # Py4JJavaError, or pyspark's own wrappers of it
            message = explain_failure(e)
            if os.environ.get("BATCHKIT_SPARK_DEBUG"):
                print(str(e), file=sys.stderr)
            spark.stop()
            fail(message)
        records = bytes_ = None
        if out_local is not None:
            records, bytes_ = finish_local(staging, out_local, args.partitions, method, args.force, args.reducer)
            staging = None
        if not args.quiet:
            summary = f"{PROG}: {method}, {records if records is not None else '?'} records, " \
                      f"{bytes_ if bytes_ is not None else '?'} bytes in {args.output} " \
                      f"({time.time() - started:.1f} s)"
            print(summary, file=sys.stderr)
        spark.stop()
    finally:
        if staging and os.path.exists(staging):
            shutil.rmtree(staging, ignore_errors=True)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
