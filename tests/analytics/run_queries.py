"""Runs the analytics archive's named queries on DuckDB, as Athena would run them on the archive.

Called by tests/integration/analytics.rs (and scripts/analytics-scan-estimate) with one argument,
a JSON file:

    {"columns": [["event_id", "string"], ...],   # the Glue table's columns, from template.yaml
     "rows": "rows.jsonl",                       # EventDetail JSON lines, each with its "dt"
     "queries": {"broadcast-funnel": "WITH ...", ...},   # Athena (Trino) SQL, from template.yaml
     "parameters": ["2026-03-03", "2026-03-05"],
     "parquet": "dir"}                           # optional: also write the rows as Parquet there
                                                 # and report the bytes each query reads

Rows are loaded as Firehose converts them: only the table's columns (any other field, personal
data included when the table has no column for it, is dropped), times parsed with the pattern of
the delivery stream's TimestampFormats. Each query is transpiled from Trino to DuckDB with sqlglot
(the query text is never copied or rewritten by hand), run with its `?` parameters, and printed
on stdout as JSON: {"name": {"columns": [...], "rows": [[...], ...]}, ...}.
"""

import datetime
import decimal
import json
import os
import sys

try:
    import duckdb
    import sqlglot
    from sqlglot import exp
except ImportError as missing:
    sys.exit(
        f"{missing}: the analytics query tests need DuckDB and sqlglot. Install them with "
        "scripts/test (or: source scripts/lib.sh && ensure_analytics_python, then set "
        "ANALYTICS_PYTHON=.local/venv-analytics/bin/python)"
    )

# Glue (Hive) column types -> DuckDB.
DUCKDB_TYPES = {"string": "VARCHAR", "timestamp": "TIMESTAMP"}
# The delivery stream's TimestampFormats pattern (yyyy-MM-dd'T'HH:mm:ss.SSS'Z') in strptime's
# words: a time in another shape fails the load, as Firehose would send it to its error output.
TIMESTAMP_FORMAT = "%Y-%m-%dT%H:%M:%S.%gZ"


def load(con, columns, rows_path):
    unknown = [(n, t) for n, t in columns if t not in DUCKDB_TYPES]
    if unknown:
        sys.exit(f"column types this script cannot map to DuckDB: {unknown}")
    definitions = ", ".join(f'"{n}" {DUCKDB_TYPES[t]}' for n, t in columns)
    con.execute(f"CREATE TABLE events ({definitions}, dt VARCHAR)")
    read = {n: "VARCHAR" for n, _ in columns}
    read["dt"] = "VARCHAR"
    values = []
    for name, kind in columns:
        if kind == "timestamp":
            values.append(f"strptime(\"{name}\", '{TIMESTAMP_FORMAT}')")
        else:
            values.append(f'"{name}"')
    con.execute(
        f"INSERT INTO events SELECT {', '.join(values)}, dt "
        "FROM read_json(?, format = 'newline_delimited', columns = "
        + "{" + ", ".join(f"'{n}': '{t}'" for n, t in read.items()) + "})",
        [rows_path],
    )


def plain(value):
    if isinstance(value, (datetime.date, datetime.datetime)):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return float(value)
    return value


def run(con, queries, parameters):
    results = {}
    for name, trino in queries.items():
        duck = sqlglot.transpile(trino, read="trino", write="duckdb")
        if len(duck) != 1:
            sys.exit(f"{name}: {len(duck)} statements, expected one")
        cursor = con.execute(duck[0], parameters)
        results[name] = {
            "columns": [d[0] for d in cursor.description],
            "rows": [[plain(v) for v in row] for row in cursor.fetchall()],
        }
    return results


def scan_estimate(con, columns, queries, directory):
    """Writes the rows as Firehose would (Parquet, Snappy) and, per query, the compressed bytes
    of the columns it reads: what Athena scans, per event of this dataset."""
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, "events.parquet")
    names = ", ".join(f'"{n}"' for n, _ in columns)
    con.execute(f"COPY (SELECT {names} FROM events) TO '{path}' (FORMAT parquet, COMPRESSION snappy)")
    sizes = dict(
        con.execute(
            "SELECT path_in_schema, sum(total_compressed_size) FROM parquet_metadata(?) GROUP BY 1",
            [path],
        ).fetchall()
    )
    rows = con.execute("SELECT count(*) FROM events").fetchone()[0]
    per_query = {}
    for name, trino in queries.items():
        read = sorted(
            {c.name for c in sqlglot.parse_one(trino, read="trino").find_all(exp.Column)} & set(sizes)
        )
        per_query[name] = {"columns": read, "bytes_per_event": sum(sizes[c] for c in read) / rows}
    return {
        "rows": rows,
        "file_bytes": os.path.getsize(path),
        "column_bytes": sizes,
        "queries": per_query,
    }


def main():
    with open(sys.argv[1]) as f:
        spec = json.load(f)
    con = duckdb.connect()
    load(con, spec["columns"], spec["rows"])
    results = run(con, spec["queries"], spec["parameters"])
    if spec.get("parquet"):
        results = {"results": results, "scan": scan_estimate(con, spec["columns"], spec["queries"], spec["parquet"])}
    json.dump(results, sys.stdout)


if __name__ == "__main__":
    main()
