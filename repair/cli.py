"""The ``repair`` command line: check, fix and diff a document."""
from __future__ import annotations

import sys
from enum import Enum
from typing import Optional

import typer
from rich.console import Console

from . import __version__
from .pipeline import InputError
from .textio import MAX_BYTES, check_output, read_text, write_atomic

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Find and undo spun content: text an article spinner ran through a thesaurus.")
err = Console(stderr=True, highlight=False)


class OutFormat(str, Enum):
    text = "text"
    json = "json"


class DetectorChoice(str, Enum):
    default = "default"
    fast = "fast"


class RestorerChoice(str, Enum):
    default = "default"
    fast = "fast"


class DiffFormat(str, Enum):
    terminal = "terminal"
    unified = "unified"
    json = "json"


def fail(message: str, code: int = 2) -> None:
    err.print(f"[bold red]error:[/] {message}", soft_wrap=True)
    raise typer.Exit(code)


def load_repairer(threshold: float | None, min_confidence: float | None, restore: bool = False,
                  restore_threshold: float | None = None, restorer: str = "default"):
    """The default Repairer; with ``restore`` also its restorer (SmolLM2, converted once on first use)."""
    from .pipeline import Repairer
    from .resources import ModelUnavailable

    def build():
        r = Repairer(threshold=threshold, min_confidence=min_confidence, restore_threshold=restore_threshold,
                     restorer=restorer)
        if restore:
            r.restorer  # noqa: B018 - load it now, under the status line, not halfway through the work
        return r

    try:
        if err.is_terminal:
            with err.status("loading models (the first fix converts SmolLM2 once, ~30 s)…"):
                return build()
        return build()
    except (ModelUnavailable, FileNotFoundError) as e:
        fail(str(e), 3)


def run_guarded(fn):
    """Turn expected failures into one line on stderr and a non-zero exit; never a traceback."""
    try:
        return fn()
    except InputError as e:
        fail(str(e), 2)
    except KeyboardInterrupt:
        fail("interrupted", 130)
    except BrokenPipeError:
        sys.stderr.close()
        raise typer.Exit(0)


def version_callback(value: bool) -> None:
    if value:
        typer.echo(f"repair {__version__}")
        raise typer.Exit()


@app.callback()
def main(version: bool = typer.Option(False, "--version", callback=version_callback, is_eager=True,
                                      help="Show the version and exit.")) -> None:
    """Find and undo spun content."""


FileArg = typer.Argument(..., help="A UTF-8 text file, or - for standard input.", show_default=False)
ThresholdOpt = typer.Option(None, "--threshold", "-t", min=0.0, max=1.0, show_default=False,
                            help="Flag sentences whose spin score is at least this [default: the detector's "
                                 "operating point, 0.82 for the shipped one: at most 2% of held-out clean "
                                 "sentences flagged].")
ConfidenceOpt = typer.Option(None, "--min-confidence", "-c", min=0.0, max=1.0, show_default=False,
                             help="Withhold edits less confident than this [default: the restorer's tuned "
                                  "operating point, 0.25 for the shipped one].")
RestoreOpt = typer.Option(None, "--restore-threshold", "-r", min=0.0, max=1.0, show_default=False,
                          help="Also restore unflagged sentences scoring at least this [default: the restorer's "
                               "tuned operating point, 0.5 for the shipped one].")
RestorerOpt = typer.Option(RestorerChoice.default, "--restorer",
                           help="fast: no extra branches at the words the detector points at; about 1.5x the "
                                "sentences/s, fewer restorations (held-out mean edit F0.5 0.282 against 0.300).")
MaxBytesOpt = typer.Option(MAX_BYTES, "--max-bytes", help="Refuse inputs larger than this many bytes.")


@app.command()
def check(file: str = FileArg, fmt: OutFormat = typer.Option(OutFormat.text, "--format", "-f"),
          threshold: Optional[float] = ThresholdOpt, max_bytes: int = MaxBytesOpt) -> None:
    """Score every sentence for spinning (detection only)."""
    def go():
        text = read_text(file, max_bytes)
        report = load_repairer(threshold, None).check(text)
        if fmt is OutFormat.json:
            sys.stdout.write(report.render("json"))
        else:
            Console(highlight=False).print(report.render("terminal", color=sys.stdout.isatty()), end="")
        raise typer.Exit(0)
    run_guarded(go)


@app.command()
def fix(file: str = FileArg, output: Optional[str] = typer.Option(None, "--output", "-o",
                                                                   help="Write here instead of standard output."),
        fmt: OutFormat = typer.Option(OutFormat.text, "--format", "-f"),
        threshold: Optional[float] = ThresholdOpt, min_confidence: Optional[float] = ConfidenceOpt,
        restore_threshold: Optional[float] = RestoreOpt, restorer: RestorerChoice = RestorerOpt,
        max_bytes: int = MaxBytesOpt) -> None:
    """Restore the original wording and print (or write) the repaired text."""
    def go():
        if output:
            check_output(output, [file])
        text = read_text(file, max_bytes)
        result = load_repairer(threshold, min_confidence, restore=True, restore_threshold=restore_threshold,
                               restorer=restorer.value).fix(text)
        payload = result.render("json") if fmt is OutFormat.json else result.text
        if output:
            write_atomic(output, payload)
            err.print(f"{len(result.edits)} edits in {len(result.flagged)} flagged sentences → {output}")
        else:
            sys.stdout.write(payload)
    run_guarded(go)


@app.command()
def diff(file: str = FileArg, html: Optional[str] = typer.Option(None, "--html", help="Also write an HTML page here."),
         side_by_side: bool = typer.Option(False, "--side-by-side", "-s", help="Original and restored in columns."),
         fmt: DiffFormat = typer.Option(DiffFormat.terminal, "--format", "-f"),
         threshold: Optional[float] = ThresholdOpt, min_confidence: Optional[float] = ConfidenceOpt,
         restore_threshold: Optional[float] = RestoreOpt, restorer: RestorerChoice = RestorerOpt,
         color: Optional[bool] = typer.Option(None, "--color/--no-color", help="Default: when writing to a terminal."),
         max_bytes: int = MaxBytesOpt) -> None:
    """Show each change with its confidence and every sentence's spin score."""
    def go():
        if html:
            check_output(html, [file])
        text = read_text(file, max_bytes)
        result = load_repairer(threshold, min_confidence, restore=True, restore_threshold=restore_threshold,
                               restorer=restorer.value).fix(text)
        if html:
            write_atomic(html, result.render("html"))
        use_color = sys.stdout.isatty() if color is None else color
        if fmt is DiffFormat.terminal:
            view = "side-by-side" if side_by_side else "terminal"
            out = Console(highlight=False, force_terminal=use_color, no_color=not use_color)
            sys.stdout.write(result.render(view, color=use_color, width=out.width))
        else:
            sys.stdout.write(result.render(fmt.value))
        if html:
            err.print(f"HTML diff → {html}")
    run_guarded(go)


@app.command()
def spin(file: str = FileArg,
         thesaurus: list[str] = typer.Option(..., "--thesaurus", "-d",
                                             help="Synonym file: head|alt (spinner or your own), Moby, MyThes, "
                                                  "WordNet (dir or .tar[.zst]) or PPDB; repeat to merge."),
         dict_format: str = typer.Option("auto", "--dict-format", help="auto, spinner, moby, mythes, wordnet, ppdb"),
         rate: float = typer.Option(0.5, "--rate", "-r", min=0.0, max=1.0, help="Probability of replacing a match."),
         seed: int = typer.Option(0, "--seed"),
         protect_quotes: bool = typer.Option(True, "--protect-quotes/--spin-quotes"),
         protect_names: bool = typer.Option(False, "--protect-names/--spin-names"),
         numerals: bool = typer.Option(True, "--numerals/--no-numerals", help="Swap number words for digits."),
         fmt: OutFormat = typer.Option(OutFormat.text, "--format", "-f"),
         max_bytes: int = MaxBytesOpt) -> None:
    """Spin a text with a thesaurus (to make training or test data), recording every substitution."""
    def go():
        import json

        from .spinner import Spinner, Thesaurus

        text = read_text(file, max_bytes)
        merged = Thesaurus(name="+".join(thesaurus))
        for path in thesaurus:
            try:
                th = Thesaurus.load(path, dict_format)
            except OSError as e:
                raise InputError(f"{path}: cannot read thesaurus ({e.strerror or e})") from None
            except ValueError as e:
                raise InputError(f"{path}: {e}") from None
            for head, alts in th.entries.items():
                merged.add(head, alts)
        spun = Spinner(merged, rate=rate, seed=seed, protect_quotes=protect_quotes, protect_names=protect_names,
                       numerals=numerals).spin(text)
        if fmt is OutFormat.json:
            sys.stdout.write(json.dumps({"original": spun.original, "spun": spun.spun,
                                         "edits": [e.to_dict() for e in spun.edits]}, ensure_ascii=False) + "\n")
        else:
            sys.stdout.write(spun.spun)
    run_guarded(go)


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
          chunk_size: int = typer.Option(256, "--chunk-size", min=1, help="Documents per resumable unit of work."),
          triage: int = typer.Option(0, "--triage", min=0, help="Detect mode: score the first N sentences first and "
                                                                "skip the rest of documents that look clean there."),
          triage_score: float = typer.Option(0.2, "--triage-score", min=0.0, max=1.0,
                                             help="With --triage: documents scoring below this on their first N "
                                                  "sentences are cleared (see docs/bench.md for recall)."),
          threshold: Optional[float] = ThresholdOpt, min_confidence: Optional[float] = ConfidenceOpt,
          max_chars: int = typer.Option(1_000_000, "--max-chars", help="Longer documents go to the errors file."),
          int8: bool = typer.Option(False, "--int8", help="Quantize the detector to int8: about 1.5x the documents/s in docs/bench.md, "
                                                          "slightly lower accuracy."),
          detector: DetectorChoice = typer.Option(DetectorChoice.default, "--detector",
                                                  help="fast: a two-layer detector, 2.5x the sentences/s of the "
                                                       "default, sentence AUC 0.02-0.06 lower (docs/benchmarks.md)."),
          restorer: RestorerChoice = RestorerOpt,
          quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar.")) -> None:
    """Clean a corpus: stream, score (and restore), resume after interruption, lose nothing."""
    from .batch import BatchError, Options, _size, run

    def go():
        opts = Options(mode="fix" if fix_ else mode.value, text_field=text_field, id_field=id_field,
                       min_score=min_score, keep=keep.value, threshold=threshold, min_confidence=min_confidence,
                       max_chars=max_chars, chunk_size=chunk_size, triage=triage,
                       triage_score=triage_score)
        from pathlib import Path

        from rich.progress import (BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn,
                                   TimeRemainingColumn)

        try:
            total = sum(_size(Path(p)) for p in inputs if Path(p).exists())
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


if __name__ == "__main__":
    app()
