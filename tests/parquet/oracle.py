"""The independent side of tests/parquet.rs: pyarrow writes the Parquet files we must read,
and turns files into text by the documented mapping (computed here, not by batchkit).

  oracle.py write DIR     files of every type, codec and layout into DIR
  oracle.py tsv FILE [COL,COL]  header + rows of FILE as text, by the mapping (only
                          the columns named, when given)
  oracle.py nested DIR    nested.parquet: scalar columns around a list and a struct
  oracle.py schema FILE   name:type per column
  oracle.py from-tsv TSV PARQUET   TSV (with header) written as Parquet (zstd)
"""
import datetime
import decimal
import sys

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

DIGITS = {"s": 0, "ms": 3, "us": 6, "ns": 9}


def esc(b):
    return b.replace(b"\t", b"\\t").replace(b"\n", b"\\n")


def frac(f, digits):
    if f == 0:
        return ""
    return "." + str(f).rjust(digits, "0").rstrip("0")


def stamp(v, digits, utc):
    per = 10**digits
    secs, f = divmod(v, per)
    d = datetime.datetime(1970, 1, 1) + datetime.timedelta(seconds=secs)
    return d.strftime("%Y-%m-%dT%H:%M:%S").rjust(19, "0") + frac(f, digits) + ("Z" if utc else "")


def clock(v, digits):
    per = 10**digits
    secs, f = divmod(v, per)
    return "%02d:%02d:%02d" % (secs // 3600, secs // 60 % 60, secs % 60) + frac(f, digits)


def floating(v):
    s = format(decimal.Decimal(repr(v)), "f")
    return s[:-2] if s.endswith(".0") else s


def column(arr):
    t = arr.type
    if pa.types.is_timestamp(t):
        return [None if v is None else stamp(v, DIGITS[t.unit], t.tz is not None)
                for v in arr.cast(pa.int64()).to_pylist()]
    if pa.types.is_time(t):
        ints = pa.int32() if pa.types.is_time32(t) else pa.int64()
        return [None if v is None else clock(v, DIGITS[t.unit])
                for v in arr.cast(ints).to_pylist()]
    out = []
    for v in arr.to_pylist():
        if v is None:
            out.append(None)
        elif pa.types.is_boolean(t):
            out.append("true" if v else "false")
        elif pa.types.is_decimal(t):
            out.append(format(v, "f"))
        elif pa.types.is_floating(t):
            out.append(floating(v))
        elif pa.types.is_date(t):
            out.append(v.isoformat())
        elif isinstance(v, bytes):
            out.append(v)
        else:
            out.append(str(v))
    return out


def tsv(path, names=None):
    t = pq.read_table(path, columns=names.split(",") if names else None)
    cols = [column(c) for c in t.columns]
    w = sys.stdout.buffer
    w.write(b"\t".join(esc(n.encode()) for n in t.column_names) + b"\n")
    for r in range(t.num_rows):
        cells = []
        for c in cols:
            v = c[r]
            v = b"" if v is None else (v if isinstance(v, bytes) else v.encode())
            cells.append(esc(v))
        w.write(b"\t".join(cells) + b"\n")


def schema(path):
    for f in pq.read_table(path).schema:
        print(f"{f.name}:{f.type}")


def types_table(n):
    D = decimal.Decimal
    rows = range(n)
    def nulls(vals):
        return [None if i % 3 == 2 else vals[i % len(vals)] for i in rows]
    return pa.table({
        "i8": pa.array(nulls([-128, 0, 127]), pa.int8()),
        "i16": pa.array(nulls([-32768, 7, 32767]), pa.int16()),
        "i32": pa.array(nulls([-2**31, 1, 2**31 - 1]), pa.int32()),
        "i64": pa.array(nulls([-2**63, 2, 2**63 - 1]), pa.int64()),
        "u8": pa.array(nulls([255, 0]), pa.uint8()),
        "u32": pa.array(nulls([2**32 - 1, 1]), pa.uint32()),
        "u64": pa.array(nulls([2**64 - 1, 3]), pa.uint64()),
        "f32": pa.array(nulls([0.5, -1.25, 3.0]), pa.float32()),
        "f64": pa.array(nulls([0.1, 1e300, -2.5e-10, 3.0]), pa.float64()),
        "b": pa.array(nulls([True, False]), pa.bool_()),
        "d52": pa.array(nulls([D("0.10"), D("-123.45"), D("0.00")]), pa.decimal128(5, 2)),
        "d18": pa.array(nulls([D("1234567890123.45678"), D("-0.00001")]), pa.decimal128(18, 5)),
        "d38": pa.array(nulls([D("-12345678901234567890123456789012345.678"), D("1.000")]),
                        pa.decimal128(38, 3)),
        "s": pa.array(nulls(["plain", "", "tab\there", "new\nline", "ünïcødé ✓"]), pa.string()),
        "bin": pa.array(nulls([b"\x00\xffraw", b""]), pa.binary()),
        "date": pa.array(nulls([datetime.date(2024, 1, 1), datetime.date(1969, 12, 31),
                                datetime.date(2000, 2, 29)]), pa.date32()),
        "ts_ms": pa.array(nulls([0, 1704103200123, -1]), pa.timestamp("ms")),
        "ts_us_utc": pa.array(nulls([1704103200500000, -86400000000]), pa.timestamp("us", tz="UTC")),
        "ts_ns_tz": pa.array(nulls([1704103200000000001, 0]), pa.timestamp("ns", tz="Europe/Paris")),
        "t_ms": pa.array(nulls([0, 45296789]), pa.time32("ms")),
        "t_us": pa.array(nulls([86399999999, 1]), pa.time64("us")),
    })


def write(d):
    t = types_table(50)
    pq.write_table(t, f"{d}/snappy.parquet", compression="snappy")
    pq.write_table(t, f"{d}/gzip.parquet", compression="gzip", use_dictionary=False)
    pq.write_table(t, f"{d}/zstd_groups.parquet", compression="zstd", row_group_size=7,
                   data_page_size=64)
    pq.write_table(t, f"{d}/none_v2.parquet", compression="none", data_page_version="2.0")
    pq.write_table(t.slice(0, 0), f"{d}/empty.parquet")


def nested(d):
    D = decimal.Decimal
    n = 40
    t = pa.table({
        "id": pa.array(range(n), pa.int64()),
        "tags": pa.array([[f"t{i}", "x"] if i % 4 else None for i in range(n)],
                         pa.list_(pa.string())),
        "amount": pa.array([None if i % 5 == 3 else D(i * 7) / 4 for i in range(n)],
                           pa.decimal128(10, 2)),
        "who": pa.array([{"a": i, "b": "s"} for i in range(n)],
                        pa.struct([("a", pa.int32()), ("b", pa.string())])),
        "name": pa.array([["ann", "bob", "tab\tcy", "skip"][i % 4] for i in range(n)]),
    })
    pq.write_table(t, f"{d}/nested.parquet", row_group_size=16)


def from_tsv(src, dst):
    opts = pacsv.ParseOptions(delimiter="\t")
    # Amounts as the exact decimals they are (pyarrow would guess float64).
    conv = pacsv.ConvertOptions(column_types={"amount": pa.decimal128(12, 2)})
    t = pacsv.read_csv(src, parse_options=opts, convert_options=conv)
    pq.write_table(t, dst, compression="zstd")


if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "write":
        write(sys.argv[2])
    elif cmd == "tsv":
        tsv(sys.argv[2], sys.argv[3] if len(sys.argv) > 3 else None)
    elif cmd == "nested":
        nested(sys.argv[2])
    elif cmd == "schema":
        schema(sys.argv[2])
    elif cmd == "from-tsv":
        from_tsv(sys.argv[2], sys.argv[3])
    else:
        sys.exit(f"unknown command {cmd}")
