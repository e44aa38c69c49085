"""Writers: a finished chunk as a part file, and the parts joined into the final files (JSONL or
Parquet output, the errors file, the exclusion file), each appearing atomically."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

from repair.batch.records import Options
from repair.textio import atomic_path


def write_part(path: Path, rows: list[tuple[str, dict]]) -> None:
    """One chunk's rows, ``[kind, row]`` a line, written atomically (a resumed run skips it)."""
    with atomic_path(path) as tmp:
        with open(tmp, "w", encoding="utf-8") as f:
            for kind, row in rows:
                f.write(json.dumps([kind, row], ensure_ascii=False) + "\n")


def assemble(parts: Path, paths: dict[str, Path], opts: Options) -> dict[str, int]:
    """Join the parts, in input order, into the final files; each appears atomically."""
    files = sorted(parts.glob("part-*.jsonl"))
    totals = {"out": 0, "errors": 0, "excluded": 0}
    parquet = paths["out"].name.endswith(".parquet")
    with atomic_path(paths["out"]) as out_tmp, atomic_path(paths["errors"]) as err_tmp, \
            atomic_path(paths["excluded"]) as exc_tmp:
        handles = {"errors": open(err_tmp, "w", encoding="utf-8"), "excluded": open(exc_tmp, "w", encoding="utf-8")}
        writer = None if parquet else open(out_tmp, "w", encoding="utf-8")
        pq_writer = None
        try:
            for part in files:
                batch = []
                with open(part, encoding="utf-8") as f:
                    for line in f:
                        kind, row = json.loads(line)
                        totals[kind] += 1
                        if kind != "out":
                            handles[kind].write(json.dumps(row, ensure_ascii=False) + "\n")
                        elif writer:
                            writer.write(json.dumps(row, ensure_ascii=False) + "\n")
                        else:
                            batch.append(row)
                if parquet and batch:
                    pq_writer = _write_parquet(pq_writer, out_tmp, batch)
            if parquet and pq_writer is None:
                _write_parquet(None, out_tmp, []).close()
        finally:
            for h in handles.values():
                h.close()
            if writer:
                writer.close()
            if pq_writer:
                pq_writer.close()
    shutil.rmtree(parts)
    if not totals["excluded"] and opts.min_score is None:
        paths["excluded"].unlink(missing_ok=True)
    return totals


def _write_parquet(writer, path: Path, rows: list[dict]):
    """Nested ``spin_*`` values are stored as JSON strings, so every chunk has the same schema."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    for row in rows:
        for k in ("spin_flagged", "spin_edits"):
            if k in row:
                row[k] = json.dumps(row[k], ensure_ascii=False)
    table = pa.Table.from_pylist(rows) if rows else pa.table({"spin_score": pa.array([], pa.float64())})
    if writer is None:
        writer = pq.ParquetWriter(path, table.schema)
    else:
        table = table.cast(writer.schema)
    writer.write_table(table)
    return writer
