"""Batch-clean corpora: stream records in, spin scores (and restorations) out, and lose nothing.

The job is a pipeline of plain steps, in the manner of datatrove:

* **read** — JSONL (plain, ``.gz``, ``.zst``), Parquet, or a directory of ``.txt`` files, one
  :class:`Record` at a time. A record that cannot be used (malformed JSON, missing text field,
  non-UTF-8, empty, oversized) is not dropped: it carries its ``error``.
* **process** — records are grouped in chunks of ``chunk_size``; each chunk is scored (and, with
  ``mode="fix"``, restored) by a worker that loaded the models once. Every record leaves as exactly
  one row of the output, of the errors file (with its reason), or of the exclusion file (documents
  ``--min-score`` filtered out, with the score that excluded them).
* **write** — each finished chunk is written atomically to ``OUT.parts/``; a rerun of the same command
  skips finished chunks (resume after Ctrl-C or ``kill -9``). When all are done they are joined,
  atomically again, into ``OUT`` (JSONL or Parquet, by extension), ``OUT.errors.jsonl`` and
  ``OUT.excluded.jsonl``; ``OUT.parts/`` is removed.

Engines: ``local`` (this process, or ``workers`` processes) and ``ray`` (Ray Data ``map_batches``
over an actor pool that holds the models; local Ray or an existing cluster via ``ray_address``).
"""
from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import shutil
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal

from . import __version__
from .textio import atomic_path

Mode = Literal["detect", "fix"]
JSONL_SUFFIXES = (".jsonl", ".json", ".ndjson")


class BatchError(ValueError):
    """The job cannot start (bad input path, unsupported format, conflicting partial output)."""


@dataclass(frozen=True)
class Record:
    """One input document. ``fields`` is the input record as read (for ``.txt`` inputs: id and text);
    ``error`` is set when the record cannot be processed, and says why."""

    key: int  # position in the input stream, over all inputs
    source: str  # "file:line" (or "file:row"), for people
    fields: dict | None
    text: str | None
    error: str | None = None
    raw: str | None = None  # the undecodable or unparsable line, kept for the errors file
    offset: int = 0  # input bytes consumed so far (for progress)


@dataclass
class Options:
    mode: Mode = "detect"
    text_field: str = "text"
    id_field: str | None = "id"
    min_score: float | None = None  # documents scoring >= min_score are "spun"
    keep: Literal["clean", "spun"] = "clean"  # with min_score: which side stays in the output
    threshold: float | None = None
    min_confidence: float | None = None
    max_chars: int = 1_000_000
    chunk_size: int = 256
    triage: int = 0  # detect mode: score only the first N sentences of documents that look clean there
    triage_score: float = 0.2

    def fingerprint(self, inputs: list[Path], models: dict | None = None) -> str:
        """Inputs, options, version and the model choices (``repairer_kwargs``): a resumed run must not
        mix the output of two detectors."""
        stats = [(str(p.resolve()), p.stat().st_size if p.is_file() else 0) for p in inputs]
        models = {k: v for k, v in (models or {}).items() if v not in (None, False, "default")}
        blob = json.dumps([stats, asdict(self), __version__] + ([models] if models else []), sort_keys=True,
                          default=lambda o: getattr(o, "name", type(o).__name__))
        return hashlib.sha256(blob.encode()).hexdigest()[:16]


@dataclass
class Summary:
    documents: int = 0
    flagged: int = 0
    fixed: int = 0
    edits: int = 0
    errors: int = 0
    excluded: int = 0
    sentences: int = 0
    skipped_chunks: int = 0
    seconds: float = 0.0  # the whole run, model loading included
    load_seconds: float = 0.0  # of which loading the models (here, or in every local worker before the first chunk)
    output: str = ""
    totals: dict = field(default_factory=dict)  # rows in the final files: out, errors, excluded (whole job)

    def add(self, other: "Summary") -> None:
        for k in ("documents", "flagged", "fixed", "edits", "errors", "excluded", "sentences"):
            setattr(self, k, getattr(self, k) + getattr(other, k))


# ---------------------------------------------------------------------------------------------- read

def _open_binary(path: Path):
    raw = open(path, "rb")
    if path.name.endswith(".gz"):
        return raw, gzip.GzipFile(fileobj=raw)
    if path.name.endswith(".zst"):
        import zstandard

        return raw, zstandard.ZstdDecompressor().stream_reader(raw)
    return raw, raw


def _kind(path: Path) -> str:
    if path.is_dir():
        return "txt-dir"
    name = path.name.lower()
    for suffix in (".gz", ".zst"):
        name = name.removesuffix(suffix)
    if name.endswith(JSONL_SUFFIXES):
        return "jsonl"
    if name.endswith(".parquet"):
        return "parquet"
    if name.endswith(".txt"):
        return "txt"
    raise BatchError(f"{path}: unsupported input (expected .jsonl[.gz|.zst], .parquet, .txt or a directory of .txt)")


def _check(fields: dict, opts: Options) -> tuple[str | None, str | None]:
    """(text, error) for one parsed record."""
    if opts.text_field not in fields:
        return None, f"missing field {opts.text_field!r}"
    text = fields[opts.text_field]
    if not isinstance(text, str):
        return None, f"field {opts.text_field!r} is {type(text).__name__}, expected a string"
    if not text.strip():
        return None, "empty text"
    if len(text) > opts.max_chars:
        return None, f"oversized document: {len(text):,} characters (limit {opts.max_chars:,})"
    return text, None


def _jsonl(path: Path, opts: Options, base: int) -> Iterator[tuple[str, dict | None, str | None, str | None, int]]:
    raw, stream = _open_binary(path)
    with raw:
        for n, line in enumerate(io.BufferedReader(stream) if stream is not raw else raw, 1):
            where = f"{path}:{n}"
            if not line.strip():
                continue  # blank lines are not records
            try:
                s = line.decode("utf-8")
            except UnicodeDecodeError as e:
                yield where, None, f"not valid UTF-8 (byte {e.start})", line.decode("utf-8", "backslashreplace").rstrip("\n"), base + raw.tell()
                continue
            try:
                obj = json.loads(s)
            except json.JSONDecodeError as e:
                yield where, None, f"malformed JSON ({e.msg} at column {e.colno})", s.rstrip("\n"), base + raw.tell()
                continue
            if not isinstance(obj, dict):
                yield where, None, f"malformed record: a JSON {type(obj).__name__}, expected an object", s.rstrip("\n"), base + raw.tell()
                continue
            yield where, obj, None, None, base + raw.tell()


def _parquet(path: Path, opts: Options, base: int):
    import pyarrow.parquet as pq

    try:
        pf = pq.ParquetFile(path)
    except Exception as e:  # noqa: BLE001 - pyarrow raises several types for a bad file
        raise BatchError(f"{path}: cannot read Parquet ({e})") from None
    total, row = max(1, pf.metadata.num_rows), 0
    size = path.stat().st_size
    for batch in pf.iter_batches(batch_size=1024):
        for obj in batch.to_pylist():
            row += 1
            yield f"{path}:row {row}", obj, None, None, base + size * row // total


def _txt(paths: list[Path], root: Path, opts: Options, base: int):
    from .textio import decode
    from .pipeline import InputError

    done = base
    for p in paths:
        data = p.read_bytes()
        done += len(data)
        rel = str(p.relative_to(root)) if root.is_dir() else p.name
        try:
            text = decode(data, rel)
        except InputError as e:
            yield str(p), {"id": rel}, str(e).split(": ", 1)[-1], data[:200].decode("utf-8", "backslashreplace"), done
            continue
        yield str(p), {"id": rel, "text": text}, None, None, done


def read(inputs: Iterable[str | Path], opts: Options) -> Iterator[Record]:
    """Every record of every input, in order, valid or not."""
    key, base = 0, 0
    for inp in inputs:
        path = Path(inp)
        if not path.exists():
            raise BatchError(f"{path}: no such file or directory")
        kind = _kind(path)
        txt_opts = Options(**{**asdict(opts), "text_field": "text"})
        if kind == "jsonl":
            rows = _jsonl(path, opts, base)
        elif kind == "parquet":
            rows = _parquet(path, opts, base)
        elif kind == "txt":
            rows = _txt([path], path, txt_opts, base)
        else:
            rows = _txt(sorted(p for p in path.rglob("*.txt") if p.is_file()), path, txt_opts, base)
        local = txt_opts if kind in ("txt", "txt-dir") else opts
        for where, fields, error, raw, offset in rows:
            text = None
            if error is None:
                text, error = _check(fields, local)
            yield Record(key, where, fields, text, error, raw, offset)
            key += 1
        base += _size(path)


def _size(path: Path) -> int:
    if path.is_dir():
        return sum(p.stat().st_size for p in path.rglob("*.txt") if p.is_file())
    return path.stat().st_size


def chunks(records: Iterable[Record], size: int) -> Iterator[list[Record]]:
    chunk: list[Record] = []
    for r in records:
        chunk.append(r)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


# ------------------------------------------------------------------------------------------- process

def needs_full_detection(first_scores: list[float], n: int, cut: float) -> bool:
    """The ``--triage`` rule: given the scores of a document's first (at most ``n``) sentences, must the
    rest be scored too? Yes when the document is that short or the mean of its three worst sentences so
    far reaches ``cut`` (more sensitive than the document score, so that few spun documents are cleared)."""
    from .doc import worst_mean

    return len(first_scores) < n or worst_mean(first_scores) >= cut


def process(repairer, chunk: list[Record], opts: Options) -> tuple[list[tuple[str, dict]], Summary]:
    """Rows for one chunk: ``("out" | "errors" | "excluded", row)``, one per record, in input order."""
    stats = Summary()
    good = [r for r in chunk if r.error is None]
    outcomes: dict[int, object] = {}
    failures: dict[int, str] = {}
    if good:
        texts = [r.text for r in good]
        try:
            if opts.mode == "fix":
                results = repairer.fix_many(texts, threshold=opts.threshold, min_confidence=opts.min_confidence)
                outcomes.update({r.key: (res, False) for r, res in zip(good, results)})
            elif opts.triage:
                first = repairer.check_many(texts, threshold=opts.threshold, max_sentences=opts.triage)
                full = [i for i, rep in enumerate(first)
                        if needs_full_detection([x.alone for x in rep.sentences], opts.triage, opts.triage_score)]
                reports = list(first)
                for i, rep in zip(full, repairer.check_many([texts[i] for i in full], threshold=opts.threshold)):
                    reports[i] = rep
                cleared = set(range(len(texts))) - set(full)
            else:
                reports, cleared = repairer.check_many(texts, threshold=opts.threshold), set()
            if opts.mode == "detect":
                for i, (r, rep) in enumerate(zip(good, reports)):
                    outcomes[r.key] = (rep, i in cleared)
        except Exception:  # noqa: BLE001 - fall back to one document at a time to isolate the bad one
            for r in good:
                try:
                    outcomes[r.key] = ((repairer.fix(r.text, threshold=opts.threshold, min_confidence=opts.min_confidence)
                                        if opts.mode == "fix" else repairer.check(r.text, threshold=opts.threshold)), False)
                except Exception as e:  # noqa: BLE001 - one bad document must not sink the run
                    failures[r.key] = f"processing failed: {type(e).__name__}: {e}"
    rows = []
    for r in chunk:
        error = r.error or failures.get(r.key)
        if error:
            stats.errors += 1
            rows.append(("errors", {"source": r.source, "reason": error,
                                    "record": r.fields if r.fields is not None else r.raw}))
            continue
        res, cleared = outcomes[r.key]
        row = dict(r.fields)
        row["spin_score"] = round(res.score, 4)
        row["spin_flagged"] = [{"start": s.start, "end": s.end, "score": round(s.score, 4)} for s in res.flagged]
        row["spin_sentences"] = len(res.sentences)
        if cleared:
            row["spin_triage"] = f"cleared on the first {opts.triage} sentences"
        if opts.mode == "fix":
            row["restored_text"] = res.text
            row["spin_edits"] = [asdict(e) for e in res.edits]
            stats.fixed += bool(res.edits)
            stats.edits += len(res.edits)
        row["spin_signature"] = str(res.signature)
        stats.documents += 1
        stats.sentences += len(res.sentences)
        stats.flagged += bool(res.flagged)
        if opts.min_score is not None and (res.score >= opts.min_score) != (opts.keep == "spun"):
            side = ">=" if res.score >= opts.min_score else "<"
            stats.excluded += 1
            rows.append(("excluded", {"source": r.source, "reason": f"spin score {res.score:.4f} {side} {opts.min_score}",
                                      "record": row}))
        else:
            rows.append(("out", row))
    return rows, stats


class SpinFilter:
    """A filter step for document pipelines (datatrove habit): documents stream through, kept ones are
    yielded with their ``spin_*`` fields, and every dropped one goes to ``exclusion_writer(row)`` with
    its reason (spun at or above ``min_score``, or unusable)."""

    def __init__(self, repairer=None, *, min_score: float = 0.5, text_field: str = "text",
                 exclusion_writer: Callable[[dict], None] | None = None, batch_size: int = 64):
        if repairer is None:
            from .pipeline import Repairer

            repairer = Repairer()
        self.repairer, self.batch_size = repairer, batch_size
        self.opts = Options(text_field=text_field, min_score=min_score, keep="clean")
        self.exclusion_writer = exclusion_writer or (lambda row: None)

    def __call__(self, docs: Iterable[dict]) -> Iterator[dict]:
        def records():
            for i, doc in enumerate(docs):
                text, error = _check(doc, self.opts) if isinstance(doc, dict) else (None, "not a dict")
                yield Record(i, f"document {i}", doc if isinstance(doc, dict) else None, text, error,
                             None if isinstance(doc, dict) else repr(doc)[:200])

        for chunk in chunks(records(), self.batch_size):
            for kind, row in process(self.repairer, chunk, self.opts)[0]:
                if kind == "out":
                    yield row
                else:
                    self.exclusion_writer(row)


# -------------------------------------------------------------------------------------------- engines

_WORKER: dict = {}


def _load_repairer(repairer_kwargs: dict, fix: bool):
    """A ``Repairer`` with every model the job needs already loaded (in fix mode the restorer too, which
    is otherwise loaded on the first ``fix``), so that no document's time includes loading."""
    from .pipeline import Repairer

    repairer = Repairer(**repairer_kwargs)
    if fix:
        repairer.restorer  # noqa: B018
    return repairer


def _init_worker(threads: int, repairer_kwargs: dict, fix: bool, loaded) -> None:
    """Load the models once per worker process and report the time, or the reason it failed (a
    failure reported here, rather than raised, leaves no worker traceback on the user's terminal)."""
    t0 = time.perf_counter()
    try:
        import torch

        torch.set_num_threads(threads)
        _WORKER["repairer"] = _load_repairer(repairer_kwargs, fix)
    except Exception as e:  # noqa: BLE001 - any failure to load is reported to the parent as one line
        loaded.put(f"{type(e).__name__}: {e}".splitlines()[0])
        return
    loaded.put(time.perf_counter() - t0)


def _work(chunk: list[Record], opts: Options):
    return process(_WORKER["repairer"], chunk, opts)


def _start_workers(pool, loaded, workers: int) -> None:
    """Start every worker and wait until each has loaded its models, so that the run's documents/s
    does not include loading. The pool starts processes on demand: one no-op task per worker starts
    them all. A worker process that dies outright breaks the pool, which its no-op task reports."""
    import queue

    pings = [pool.submit(os.getpid) for _ in range(workers)]
    ready = 0
    while ready < workers:
        try:
            msg = loaded.get(timeout=0.5)
        except queue.Empty:
            for f in pings:
                if f.done() and f.exception() is not None:
                    raise BatchError(f"a worker process died while loading the models: {f.exception()}") from None
            continue
        if isinstance(msg, str):
            raise BatchError(f"a worker could not load the models: {msg}")
        ready += 1


def _local_engine(todo: Iterator[tuple[int, list[Record]]], opts: Options, workers: int, repairer_kwargs: dict,
                  repairer=None, on_loaded: Callable[[float], None] | None = None):
    """Yield (chunk index, rows, stats) in completion order, at most 2 chunks per worker in flight.
    With one worker the chunks run here, on ``repairer`` (which ``run`` always provides). With several,
    every worker loads its models before the first chunk is sent; ``on_loaded`` gets that time."""
    if workers <= 1:
        for k, chunk in todo:
            yield k, *process(repairer, chunk, opts)
        return
    import itertools
    import multiprocessing as mp
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

    first = next(todo, None)
    if first is None:  # nothing left to do (a finished job rerun): no worker needs to load
        return
    threads = max(1, (os.cpu_count() or 1) // workers)
    ctx = mp.get_context("spawn")
    loaded = ctx.Queue()
    t0 = time.perf_counter()
    with ProcessPoolExecutor(workers, mp_context=ctx, initializer=_init_worker,
                             initargs=(threads, repairer_kwargs, opts.mode == "fix", loaded)) as pool:
        _start_workers(pool, loaded, workers)
        if on_loaded:
            on_loaded(time.perf_counter() - t0)
        pending = {}
        for k, chunk in itertools.chain([first], todo):
            pending[pool.submit(_work, chunk, opts)] = k
            while len(pending) >= 2 * workers:
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                for f in done:
                    yield pending.pop(f), *f.result()
        for f in list(pending):
            yield pending.pop(f), *f.result()


class _RayRepair:
    """Ray Data actor: holds the models, processes one chunk (a batch of one row) at a time."""

    def __init__(self, opts: dict, repairer_kwargs: dict):
        import time

        from .pipeline import Repairer

        t0 = time.perf_counter()
        self.opts = Options(**opts)
        self.repairer = Repairer(**repairer_kwargs)
        print(f"repair actor ready in {time.perf_counter() - t0:.1f} s", flush=True)

    def __call__(self, batch: dict) -> dict:
        import pickle

        out = []
        for k, payload in zip(batch["k"], batch["chunk"]):
            rows, stats = process(self.repairer, pickle.loads(payload), self.opts)
            out.append(pickle.dumps((int(k), rows, stats)))
        return {"result": out}


def _ray_engine(todo: Iterator[tuple[int, list[Record]]], opts: Options, workers: int, repairer_kwargs: dict,
                ray_address: str | None, window: int = 64):
    """Chunks go to Ray Data in windows of ``window`` chunks (the driver's memory stays bounded); each
    window is one ``map_batches`` over an actor pool of ``workers`` actors that hold the models."""
    import pickle

    import ray

    if not ray.is_initialized():
        ray.init(address=ray_address, include_dashboard=False, log_to_driver=False,
                 ignore_reinit_error=True, configure_logging=False)
    ctx = ray.data.DataContext.get_current()
    ctx.enable_progress_bars = False
    ctx.print_on_execution_start = False
    while True:
        items = [{"k": k, "chunk": pickle.dumps(chunk)} for k, chunk in _take(todo, window)]
        if not items:
            return
        ds = ray.data.from_items(items).map_batches(
            _RayRepair, fn_constructor_kwargs={"opts": asdict(opts), "repairer_kwargs": repairer_kwargs},
            batch_size=1, compute=ray.data.ActorPoolStrategy(size=max(1, workers)), num_cpus=1)
        for row in ds.iter_rows():
            yield pickle.loads(row["result"])


def _take(it: Iterator, n: int) -> list:
    out = []
    for x in it:
        out.append(x)
        if len(out) >= n:
            break
    return out


# ------------------------------------------------------------------------------------------------ run

def outputs_for(output: str | Path) -> dict[str, Path]:
    out = Path(output)
    return {"out": out, "errors": out.with_name(out.name + ".errors.jsonl"),
            "excluded": out.with_name(out.name + ".excluded.jsonl"), "parts": out.with_name(out.name + ".parts")}


def run(inputs: list[str | Path], output: str | Path, *, options: Options | None = None, workers: int = 1,
        engine: Literal["local", "ray"] = "local", ray_address: str | None = None, repairer=None,
        repairer_kwargs: dict | None = None, progress: Callable[[int, Summary], None] | None = None) -> Summary:
    """Run a batch job; see the module docstring. Returns the summary of this run (resumed chunks count
    in ``skipped_chunks``; the output files always hold the whole job)."""
    opts = options or Options()
    repairer_kwargs = dict(repairer_kwargs or {})
    models = dict(repairer_kwargs)
    name = getattr(getattr(repairer, "detector", None), "name", None)
    if name:
        models["detector"] = name
    inputs = [Path(p) for p in inputs]
    paths = outputs_for(output)
    for p in inputs:
        if not p.exists():
            raise BatchError(f"{p}: no such file or directory")
        _kind(p)
        if p.resolve() in {q.resolve() for q in paths.values() if q.exists()}:
            raise BatchError(f"{p}: the output would overwrite an input")
    if not paths["out"].name.endswith((".jsonl", ".parquet")):
        raise BatchError(f"{output}: output must end in .jsonl or .parquet")
    if not paths["out"].resolve().parent.is_dir():
        raise BatchError(f"{output}: directory {paths['out'].resolve().parent} does not exist")
    if opts.mode not in ("detect", "fix"):
        raise BatchError(f"unknown mode {opts.mode!r} (detect or fix)")
    parts = paths["parts"]
    stamp = opts.fingerprint(inputs, models)
    job = parts / "job.json"
    if parts.exists():
        if not job.exists() or json.loads(job.read_text()).get("fingerprint") != stamp:
            raise BatchError(f"{parts} holds the partial output of a different job (other inputs, options or models); "
                             f"remove it or rerun the original command")
    else:
        parts.mkdir()
        job.write_text(json.dumps({"fingerprint": stamp, "inputs": [str(p) for p in inputs],
                                   "options": asdict(opts)}) + "\n")
    summary = Summary(output=str(paths["out"]))
    t0 = time.perf_counter()
    if engine == "local" and workers <= 1 and repairer is None:
        repairer = _load_repairer(repairer_kwargs, opts.mode == "fix")
        summary.load_seconds = time.perf_counter() - t0

    def todo():
        for k, chunk in enumerate(chunks(read(inputs, opts), opts.chunk_size)):
            if (parts / f"part-{k:06d}.jsonl").exists():
                summary.skipped_chunks += 1
                if progress:
                    progress(chunk[-1].offset, summary)
                continue
            last_offset[k] = chunk[-1].offset
            yield k, chunk

    last_offset: dict[int, int] = {}
    if engine == "ray":
        results = _ray_engine(todo(), opts, workers, repairer_kwargs, ray_address)
    elif engine == "local":
        results = _local_engine(todo(), opts, workers, repairer_kwargs, repairer,
                                on_loaded=lambda s: setattr(summary, "load_seconds", s))
    else:
        raise BatchError(f"unknown engine {engine!r} (local or ray)")
    for k, rows, stats in results:
        with atomic_path(parts / f"part-{k:06d}.jsonl") as tmp:
            with open(tmp, "w", encoding="utf-8") as f:
                for kind, row in rows:
                    f.write(json.dumps([kind, row], ensure_ascii=False) + "\n")
        summary.add(stats)
        if progress:
            progress(last_offset.pop(k, 0), summary)
    summary.totals = _assemble(parts, paths, opts)
    summary.seconds = time.perf_counter() - t0
    return summary


def _assemble(parts: Path, paths: dict[str, Path], opts: Options) -> dict[str, int]:
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
