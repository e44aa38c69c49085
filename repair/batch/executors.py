"""Executors: where the chunks of a job run. ``local``: this process, or a pool of worker processes
that each load the models once; ``ray``: Ray Data over an actor pool that holds the models."""
from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict

from repair.batch.records import Options, Record
from repair.batch.step import process
from repair.errors import BatchError


_WORKER: dict = {}


def load_repairer(repairer_kwargs: dict, fix: bool):
    """A ``Repairer`` with every model the job needs already loaded (in fix mode the restorer too, which
    is otherwise loaded on the first ``fix``), so that no document's time includes loading."""
    from repair.pipeline import Repairer

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
        _WORKER["repairer"] = load_repairer(repairer_kwargs, fix)
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


def local_engine(todo: Iterator[tuple[int, list[Record]]], opts: Options, workers: int, repairer_kwargs: dict,
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
        from repair.pipeline import Repairer

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


def ray_engine(todo: Iterator[tuple[int, list[Record]]], opts: Options, workers: int, repairer_kwargs: dict,
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
