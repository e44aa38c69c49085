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

Modules, one step each: ``records`` (a record, the job's options, its summary), ``readers``,
``step`` (score and restore one chunk; ``SpinFilter`` for document pipelines), ``executors``,
``writers``, ``job`` (run, resume).

Engines: ``local`` (this process, or ``workers`` processes) and ``ray`` (Ray Data ``map_batches``
over an actor pool that holds the models; local Ray or an existing cluster via ``ray_address``).
"""
from repair.batch.job import outputs_for, run
from repair.batch.readers import chunks, input_size, read
from repair.batch.records import Options, Record, Summary
from repair.batch.step import SpinFilter, needs_full_detection, process
from repair.errors import BatchError

__all__ = ["BatchError", "Options", "Record", "SpinFilter", "Summary", "chunks", "input_size", "needs_full_detection",
           "outputs_for", "process", "read", "run"]
