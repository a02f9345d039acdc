"""engines.py ENGINE OP OUT INPUT... — the PyPI engines' side of scripts/bench.sh.

ENGINE: duckdb | polars | chdb. Every query is the obvious one, reads the headerless TSV
(or JSON lines) file as it is and writes headerless TSV to OUT, unquoted:

  groupby IN        key<TAB>int: key, sum(v), count(*) GROUP BY key          (reduce-*)
  count IN          key<TAB>...: key, count(*) GROUP BY key                  (reduce-words)
  words IN          text: split every line on ' ', word, count(*) GROUP BY word (map-words)
  revenue-json IN   orders.jsonl: WHERE status = 'completed', day, sum(amount), count(*)
                    GROUP BY the day of created_at, ORDER BY day
  revenue-tsv IN    the same over orders.tsv
  revenue-parquet IN  the same over orders.parquet (created_at a TIMESTAMP, amount DECIMAL)
  to-parquet IN     orders.tsv typed (BIGINT ids, TIMESTAMP, DECIMAL(18,2)) COPY TO OUT as
                    Parquet (DuckDB: its defaults; the derived orders.parquet is this too)
  join ORDERS USERS orders JOIN users ON user_id, in GNU join's layout (key, the other
                    orders fields, the other users fields)
  sort-key IN       key<TAB>int ORDER BY key (bytewise)
  sort-num IN       key<TAB>int ORDER BY v

Amounts are DECIMAL(18,2) in DuckDB and chdb (exact sums); Polars sums them as Float64
(bench.sh compares its sums rounded to cents).
"""
import sys

ENGINE, OP, OUT = sys.argv[1:4]
INS = sys.argv[4:]

ORDER_COLS = ["order_id", "user_id", "product_id", "status", "created_at", "amount"]
USER_COLS = ["user_id", "name", "country"]


# ---------------------------------------------------------------- DuckDB
def duckdb_main():
    import duckdb

    con = duckdb.connect()
    opts = "delim='\t', header=false, quote='', escape='', auto_detect=false"

    def tsv(path, cols):
        spec = ", ".join(f"'{c}': '{t}'" for c, t in cols)
        return f"read_csv('{path}', {opts}, columns={{{spec}}})"

    if OP == "groupby":
        q = f"SELECT k, sum(v), count(*) FROM {tsv(INS[0], [('k', 'VARCHAR'), ('v', 'BIGINT')])} GROUP BY k"
    elif OP == "count":
        q = f"SELECT k, count(*) FROM {tsv(INS[0], [('k', 'VARCHAR'), ('v', 'VARCHAR')])} GROUP BY k"
    elif OP == "words":
        src = (f"read_csv('{INS[0]}', delim='\x01', header=false, quote='', escape='', "
               "auto_detect=false, columns={'line': 'VARCHAR'})")
        q = f"SELECT w, count(*) FROM (SELECT unnest(string_split(line, ' ')) AS w FROM {src}) GROUP BY w"
    elif OP == "revenue-json":
        src = (f"read_json('{INS[0]}', format='newline_delimited', columns={{'status': 'VARCHAR', "
               "'created_at': 'VARCHAR', 'amount': 'DECIMAL(18,2)'})")
        q = (f"SELECT CAST(CAST(created_at AS TIMESTAMP) AS DATE) AS day, sum(amount), count(*) FROM {src} "
             "WHERE status = 'completed' GROUP BY day ORDER BY day")
    elif OP == "revenue-tsv":
        cols = [(c, "VARCHAR") for c in ORDER_COLS[:-1]] + [("amount", "DECIMAL(18,2)")]
        q = (f"SELECT CAST(CAST(created_at AS TIMESTAMP) AS DATE) AS day, sum(amount), count(*) "
             f"FROM {tsv(INS[0], cols)} WHERE status = 'completed' GROUP BY day ORDER BY day")
    elif OP == "revenue-parquet":
        q = (f"SELECT CAST(created_at AS DATE) AS day, sum(amount), count(*) "
             f"FROM read_parquet('{INS[0]}') WHERE status = 'completed' GROUP BY day ORDER BY day")
    elif OP == "to-parquet":
        types = ["BIGINT", "BIGINT", "BIGINT", "VARCHAR", "TIMESTAMP", "DECIMAL(18,2)"]
        src = tsv(INS[0], list(zip(ORDER_COLS, types)))
        con.execute(f"COPY (SELECT * FROM {src}) TO '{OUT}' (FORMAT parquet)")
        return
    elif OP == "join":
        o = tsv(INS[0], [(c, "VARCHAR") for c in ORDER_COLS])
        u = tsv(INS[1], [(c, "VARCHAR") for c in USER_COLS])
        sel = ", ".join(["o.user_id"] + [f"o.{c}" for c in ORDER_COLS if c != "user_id"]
                        + [f"u.{c}" for c in USER_COLS[1:]])
        q = f"SELECT {sel} FROM {o} o JOIN {u} u ON o.user_id = u.user_id"
    elif OP in ("sort-key", "sort-num"):
        vt = "BIGINT" if OP == "sort-num" else "VARCHAR"
        q = f"SELECT * FROM {tsv(INS[0], [('k', 'VARCHAR'), ('v', vt)])} ORDER BY {'v' if OP == 'sort-num' else 'k'}"
    else:
        sys.exit(f"engines.py: duckdb has no op {OP}")
    con.execute(f"COPY ({q}) TO '{OUT}' (FORMAT csv, DELIMITER '\t', HEADER false, QUOTE '')")


# ---------------------------------------------------------------- Polars
def polars_main():
    import polars as pl

    def scan(path, cols):
        return pl.scan_csv(path, separator="\t", has_header=False, quote_char=None,
                           schema=dict(cols))

    day = pl.col("created_at").str.slice(0, 10).alias("day")
    if OP == "groupby":
        lf = (scan(INS[0], [("k", pl.String), ("v", pl.Int64)])
              .group_by("k").agg(pl.col("v").sum(), pl.len()))
    elif OP == "count":
        lf = scan(INS[0], [("k", pl.String), ("v", pl.String)]).group_by("k").agg(pl.len())
    elif OP == "words":
        lf = (scan(INS[0], [("line", pl.String)])
              .select(pl.col("line").str.split(" ").alias("w")).explode("w")
              .group_by("w").agg(pl.len()))
    elif OP == "revenue-json":
        lf = (pl.scan_ndjson(INS[0], schema={"order_id": pl.Int64, "user_id": pl.Int64,
                                             "product_id": pl.Int64, "status": pl.String,
                                             "created_at": pl.String, "amount": pl.Float64})
              .filter(pl.col("status") == "completed")
              .group_by(day).agg(pl.col("amount").sum(), pl.len()).sort("day"))
    elif OP == "revenue-tsv":
        cols = [(c, pl.String) for c in ORDER_COLS[:-1]] + [("amount", pl.Float64)]
        lf = (scan(INS[0], cols).filter(pl.col("status") == "completed")
              .group_by(day).agg(pl.col("amount").sum(), pl.len()).sort("day"))
    elif OP == "join":
        o = scan(INS[0], [(c, pl.String) for c in ORDER_COLS])
        u = scan(INS[1], [(c, pl.String) for c in USER_COLS])
        lf = o.join(u, on="user_id").select(["user_id"] + [c for c in ORDER_COLS if c != "user_id"]
                                            + USER_COLS[1:])
    elif OP in ("sort-key", "sort-num"):
        vt = pl.Int64 if OP == "sort-num" else pl.String
        lf = scan(INS[0], [("k", pl.String), ("v", vt)]).sort("v" if OP == "sort-num" else "k")
    else:
        sys.exit(f"engines.py: polars has no op {OP}")
    lf.collect().write_csv(OUT, separator="\t", include_header=False, quote_style="never")


# ---------------------------------------------------------------- chdb (ClickHouse)
def chdb_main():
    import chdb

    def tsv(path, cols):
        spec = ", ".join(f"{c} {t}" for c, t in cols)
        return f"file('{path}', 'TSV', '{spec}')"

    if OP == "groupby":
        q = f"SELECT k, sum(v), count() FROM {tsv(INS[0], [('k', 'String'), ('v', 'Int64')])} GROUP BY k"
    elif OP == "count":
        q = f"SELECT k, count() FROM {tsv(INS[0], [('k', 'String'), ('v', 'String')])} GROUP BY k"
    elif OP == "words":
        q = (f"SELECT w, count() FROM file('{INS[0]}', 'LineAsString') "
             "ARRAY JOIN splitByChar(' ', line) AS w GROUP BY w")
    elif OP == "revenue-json":
        src = (f"file('{INS[0]}', 'JSONEachRow', 'order_id Int64, user_id Int64, product_id Int64, "
               "status String, created_at String, amount Decimal(18, 2)')")
        q = (f"SELECT toDate(substring(created_at, 1, 10)) AS day, sum(amount), count() FROM {src} "
             "WHERE status = 'completed' GROUP BY day ORDER BY day")
    elif OP == "revenue-tsv":
        cols = [(c, "String") for c in ORDER_COLS[:-1]] + [("amount", "Decimal(18, 2)")]
        q = (f"SELECT toDate(substring(created_at, 1, 10)) AS day, sum(amount), count() "
             f"FROM {tsv(INS[0], cols)} WHERE status = 'completed' GROUP BY day ORDER BY day")
    elif OP == "join":
        o = tsv(INS[0], [(c, "String") for c in ORDER_COLS])
        u = tsv(INS[1], [(c, "String") for c in USER_COLS])
        sel = ", ".join(["o.user_id"] + [f"o.{c}" for c in ORDER_COLS if c != "user_id"]
                        + [f"u.{c}" for c in USER_COLS[1:]])
        q = f"SELECT {sel} FROM {o} AS o INNER JOIN {u} AS u ON o.user_id = u.user_id"
    elif OP in ("sort-key", "sort-num"):
        vt = "Int64" if OP == "sort-num" else "String"
        q = f"SELECT * FROM {tsv(INS[0], [('k', 'String'), ('v', vt)])} ORDER BY {'v' if OP == 'sort-num' else 'k'}"
    else:
        sys.exit(f"engines.py: chdb has no op {OP}")
    # ClickHouse writes the file itself (TSV: no header, no quotes; decimals keep their scale)
    chdb.query(f"INSERT INTO FUNCTION file('{OUT}', 'TSV') {q} "
               "SETTINGS output_format_decimal_trailing_zeros = 1, engine_file_truncate_on_insert = 1")


{"duckdb": duckdb_main, "polars": polars_main, "chdb": chdb_main}.get(
    ENGINE, lambda: sys.exit(f"engines.py: unknown engine {ENGINE}"))()
