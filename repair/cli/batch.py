"""``repair batch``: clean a corpus."""
from __future__ import annotations

from enum import Enum
from typing import Optional

import typer

from repair import config
from repair.errors import InputError
from repair.cli.app import (ConfidenceOpt, DetectorChoice, DetectorOpt, RestorerChoice, RestorerOpt,
                            ThresholdOpt, app, err, run_guarded)


class Mode(str, Enum):
    detect = "detect"
    fix = "fix"


class Engine(str, Enum):
    local = "local"
    ray = "ray"


class Keep(str, Enum):
    clean = "clean"
    spun = "spun"


@app.command()
def batch(inputs: list[str] = typer.Argument(..., help="JSONL (.jsonl, .gz, .zst), Parquet, .txt files or "
                                                      "directories of .txt files.", show_default=False),
          output: str = typer.Option(..., "--output", "-o", help="OUT.jsonl or OUT.parquet; errors go to "
                                                                 "OUT.errors.jsonl, filtered documents to OUT.excluded.jsonl."),
          mode: Mode = typer.Option(Mode.detect, "--mode", "-m", help="detect: scores only; fix: also restore."),
          fix_: bool = typer.Option(False, "--fix", help="Same as --mode fix."),
          text_field: str = typer.Option("text", "--text-field"),
          id_field: str = typer.Option("id", "--id-field"),
          min_score: Optional[float] = typer.Option(None, "--min-score", min=0.0, max=1.0,
                                                    help="Documents scoring at least this are spun; see --keep."),
          keep: Keep = typer.Option(Keep.clean, "--keep", help="With --min-score: which documents stay in OUT "
                                                               "(the others go to OUT.excluded.jsonl with their score)."),
          workers: int = typer.Option(1, "--workers", "-w", min=1, help="Worker processes (or Ray actors)."),
          engine: Engine = typer.Option(Engine.local, "--engine"),
          ray_address: Optional[str] = typer.Option(None, "--ray-address", help="Join this Ray cluster (e.g. auto)."),
          chunk_size: int = typer.Option(config.CHUNK_SIZE, "--chunk-size", min=1, help="Documents per resumable unit of work."),
          triage: int = typer.Option(0, "--triage", min=0, help="Detect mode: score the first N sentences first and "
                                                                "skip the rest of documents that look clean there."),
          triage_score: float = typer.Option(config.TRIAGE_SCORE, "--triage-score", min=0.0, max=1.0,
                                             help="With --triage: documents scoring below this on their first N "
                                                  "sentences are cleared (see docs/bench.md for recall)."),
          threshold: Optional[float] = ThresholdOpt, min_confidence: Optional[float] = ConfidenceOpt,
          max_chars: int = typer.Option(config.MAX_CHARS, "--max-chars", help="Longer documents go to the errors file."),
          int8: bool = typer.Option(False, "--int8", help="Quantize the detector to int8: faster, slightly less accurate "
                                                          "(docs/bench.md, docs/benchmarks.md)."),
          detector: DetectorChoice = DetectorOpt,
          restorer: RestorerChoice = RestorerOpt,
          quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar.")) -> None:
    """Clean a corpus: stream, score (and restore), resume after interruption, lose nothing."""
    from repair.batch import BatchError, Options, input_size, run

    def go():
        opts = Options(mode="fix" if fix_ else mode.value, text_field=text_field, id_field=id_field,
                       min_score=min_score, keep=keep.value, threshold=threshold, min_confidence=min_confidence,
                       max_chars=max_chars, chunk_size=chunk_size, triage=triage,
                       triage_score=triage_score)
        from pathlib import Path

        from rich.progress import (BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn,
                                   TimeRemainingColumn)

        try:
            total = sum(input_size(Path(p)) for p in inputs if Path(p).exists())
        except OSError:
            total = None
        columns = [TextColumn("[bold]repair batch"), BarColumn(), TaskProgressColumn(), TextColumn("{task.fields[rate]}"),
                   TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn()]
        t0 = __import__("time").perf_counter()
        with Progress(*columns, console=err, disable=quiet or not err.is_terminal, transient=False) as bar:
            task = bar.add_task("batch", total=total or None, rate="")

            def progress(offset, summary):
                dt = max(1e-9, __import__("time").perf_counter() - t0)
                bar.update(task, completed=offset, rate=f"{summary.documents:,} docs  {summary.documents / dt:.1f} docs/s  "
                                                        f"{summary.sentences / dt:.0f} sent/s  {summary.errors} errors")
            try:
                summary = run(inputs, output, options=opts, workers=workers, engine=engine.value,
                              ray_address=ray_address, repairer_kwargs={"threshold": threshold, "int8": int8,
                                                                        "detector": detector.value,
                                                                        "min_confidence": min_confidence,
                                                                        "restorer": restorer.value},
                              progress=progress)
            except BatchError as e:
                raise InputError(str(e)) from None
        t = summary.totals
        err.print(f"{summary.documents:,} documents processed ({summary.skipped_chunks} chunks resumed from an earlier run), "
                  f"{summary.flagged:,} flagged, {summary.fixed:,} fixed ({summary.edits:,} edits), {summary.errors:,} errors, "
                  f"{summary.excluded:,} excluded in {summary.seconds:.1f} s "
                  f"({summary.documents / max(summary.seconds, 1e-9):.1f} docs/s"
                  + (f"; models loaded in {summary.load_seconds:.1f} s" if summary.load_seconds else "") + ")")
        err.print(f"→ {output}: {t.get('out', 0):,} rows; errors: {t.get('errors', 0):,}; excluded: {t.get('excluded', 0):,}")
    run_guarded(go)


