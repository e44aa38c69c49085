"""A job: check its inputs and outputs, resume what an earlier run finished, run the chunks on an
executor, and assemble the final files."""
from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Literal

from repair.batch.executors import load_repairer, local_engine, ray_engine
from repair.batch.readers import chunks, kind_of, read
from repair.batch.records import Options, Summary
from repair.batch.writers import assemble, write_part
from repair.errors import BatchError


def outputs_for(output: str | Path) -> dict[str, Path]:
    out = Path(output)
    return {"out": out, "errors": out.with_name(out.name + ".errors.jsonl"),
            "excluded": out.with_name(out.name + ".excluded.jsonl"), "parts": out.with_name(out.name + ".parts")}


def _checked_paths(inputs: list[Path], output: str | Path, opts: Options) -> dict[str, Path]:
    """The job's output paths, once the inputs exist and are readable kinds, no output would
    overwrite an input, and the output's directory exists."""
    paths = outputs_for(output)
    for p in inputs:
        if not p.exists():
            raise BatchError(f"{p}: no such file or directory")
        kind_of(p)
        if p.resolve() in {q.resolve() for q in paths.values() if q.exists()}:
            raise BatchError(f"{p}: the output would overwrite an input")
    if not paths["out"].name.endswith((".jsonl", ".parquet")):
        raise BatchError(f"{output}: output must end in .jsonl or .parquet")
    if not paths["out"].resolve().parent.is_dir():
        raise BatchError(f"{output}: directory {paths['out'].resolve().parent} does not exist")
    if opts.mode not in ("detect", "fix"):
        raise BatchError(f"unknown mode {opts.mode!r} (detect or fix)")
    return paths


def _claim_parts(parts: Path, stamp: str, inputs: list[Path], opts: Options) -> bool:
    """Start ``parts`` for this job, or resume it if an earlier run of the same job left it, and take its
    lock: a second run on the same output at once is refused. True when this run made ``parts``."""
    job = parts / "job.json"
    made = not parts.exists()
    if made:
        parts.mkdir()
        job.write_text(json.dumps({"fingerprint": stamp, "inputs": [str(p) for p in inputs],
                                   "options": asdict(opts)}) + "\n")
    elif not job.exists() or json.loads(job.read_text()).get("fingerprint") != stamp:
        raise BatchError(f"{parts} holds the partial output of a different job (other inputs, inputs changed since, "
                         f"other options or models); remove it or rerun the original command")
    lock = parts / "lock"
    for _ in range(2):
        try:
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            pid = _pid(lock)
            if pid and _alive(pid):
                raise BatchError(f"{parts.with_suffix('')}: another run (pid {pid}) is writing this output; "
                                 f"wait for it to finish or stop it") from None
            lock.unlink(missing_ok=True)  # left by a run that was killed: take it over
            continue
        with os.fdopen(fd, "w") as f:
            f.write(f"{os.getpid()}\n")
        return made
    raise BatchError(f"{lock}: cannot take the job's lock")


def _pid(lock: Path) -> int | None:
    try:
        return int(lock.read_text().strip() or 0) or None
    except (OSError, ValueError):
        return None


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return False  # our own lock from an earlier, finished call in this process
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


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
    paths = _checked_paths(inputs, output, opts)
    parts = paths["parts"]
    made = _claim_parts(parts, opts.fingerprint(inputs, models), inputs, opts)
    try:
        return _run(inputs, paths, opts, workers, engine, ray_address, repairer, repairer_kwargs, progress)
    except BaseException:
        if made and not any(parts.glob("part-*.jsonl")):
            shutil.rmtree(parts, ignore_errors=True)  # a failed start leaves nothing behind to block the next run
        raise
    finally:
        (parts / "lock").unlink(missing_ok=True)


def _run(inputs, paths, opts, workers, engine, ray_address, repairer, repairer_kwargs, progress) -> Summary:
    parts = paths["parts"]
    summary = Summary(output=str(paths["out"]))
    t0 = time.perf_counter()
    if engine == "local" and workers <= 1 and repairer is None:
        repairer = load_repairer(repairer_kwargs, opts.mode == "fix")
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
        results = ray_engine(todo(), opts, workers, repairer_kwargs, ray_address)
    elif engine == "local":
        results = local_engine(todo(), opts, workers, repairer_kwargs, repairer,
                                on_loaded=lambda s: setattr(summary, "load_seconds", s))
    else:
        raise BatchError(f"unknown engine {engine!r} (local or ray)")
    for k, rows, stats in results:
        write_part(parts / f"part-{k:06d}.jsonl", rows)
        summary.add(stats)
        if progress:
            progress(last_offset.pop(k, 0), summary)
    summary.totals = assemble(parts, paths, opts)
    summary.seconds = time.perf_counter() - t0
    return summary
