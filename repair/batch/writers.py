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
    schema = _parquet_schema(files) if parquet else None
    with atomic_path(paths["out"]) as out_tmp, atomic_path(paths["errors"]) as err_tmp, \
            atomic_path(paths["excluded"]) as exc_tmp:
        handles = {"errors": open(err_tmp, "w", encoding="utf-8"), "excluded": open(exc_tmp, "w", encoding="utf-8")}
        writer = _ParquetOut(out_tmp, schema) if parquet else open(out_tmp, "w", encoding="utf-8")
        try:
            for part in files:
                batch = []
                for kind, row in _rows(part):
                    totals[kind] += 1
                    if kind != "out":
                        handles[kind].write(json.dumps(row, ensure_ascii=False) + "\n")
                    elif parquet:
                        batch.append(row)
                    else:
                        writer.write(json.dumps(row, ensure_ascii=False) + "\n")
                if parquet:
                    writer.write(batch)
        finally:
            for h in handles.values():
                h.close()
            writer.close()
    shutil.rmtree(parts)
    if not totals["excluded"] and opts.min_score is None:
        paths["excluded"].unlink(missing_ok=True)
    return totals


def _rows(part: Path):
    with open(part, encoding="utf-8") as f:
        for line in f:
            yield json.loads(line)


def _kind(value) -> str:
    """A Parquet column's type for one value: bool, int, float, str, or json (anything else, as JSON text)."""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    return "str" if isinstance(value, str) else "json"


def _parquet_schema(files: list[Path]):
    """The output's schema: every field of every output row, in order of first appearance, each with
    the one type that holds all its values (ints and floats: float; any other mix, or a nested value:
    JSON text). A first pass over the parts, so that no later chunk can disagree; with it the column
    kinds, for converting the values."""
    import pyarrow as pa

    kinds: dict[str, str | None] = {}
    for part in files:
        for kind, row in _rows(part):
            if kind != "out":
                continue
            for k, v in row.items():
                old, new = kinds.get(k), None if v is None else _kind(v)
                if new is None or old == new:
                    kinds.setdefault(k, old)
                elif old is None:
                    kinds[k] = new
                else:
                    kinds[k] = "float" if {old, new} == {"int", "float"} else "json"
    types = {"bool": pa.bool_(), "int": pa.int64(), "float": pa.float64()}
    fields = [pa.field(k, types.get(t or "str", pa.string())) for k, t in kinds.items()] or \
        [pa.field("spin_score", pa.float64())]
    return pa.schema(fields), {k: t or "str" for k, t in kinds.items()}


class _ParquetOut:
    """Rows written under one schema: missing fields are null, values converted to their column's type."""

    def __init__(self, path: Path, schema):
        import pyarrow.parquet as pq

        self.schema, self.kinds = schema
        self.writer = pq.ParquetWriter(path, self.schema)

    def write(self, rows: list[dict]) -> None:
        import pyarrow as pa

        if not rows:
            return
        cols = {f.name: [self._value(f.name, r.get(f.name)) for r in rows] for f in self.schema}
        self.writer.write_table(pa.Table.from_pydict(cols, schema=self.schema))

    def _value(self, name: str, v):
        kind = self.kinds.get(name, "str")
        if v is None:
            return None
        if kind == "float":
            return float(v)
        return json.dumps(v, ensure_ascii=False) if kind == "json" else v

    def close(self) -> None:
        self.writer.close()
