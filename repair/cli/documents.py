"""The document commands: check, fix and diff one text."""
from __future__ import annotations

import sys
from enum import Enum
from typing import Optional

import typer
from rich.console import Console

from repair.cli.app import (ConfidenceOpt, FileArg, MaxBytesOpt, OutFormat, RestoreOpt, RestorerChoice, RestorerOpt,
                            ThresholdOpt, app, err, load_repairer, run_guarded)
from repair.render import render
from repair.textio import check_output, read_input, read_text, write_atomic


class DiffFormat(str, Enum):
    terminal = "terminal"
    unified = "unified"
    json = "json"


@app.command()
def check(file: str = FileArg, fmt: OutFormat = typer.Option(OutFormat.text, "--format", "-f"),
          threshold: Optional[float] = ThresholdOpt, max_bytes: int = MaxBytesOpt) -> None:
    """Score every sentence for spinning (detection only)."""
    def go():
        text = read_text(file, max_bytes)
        report = load_repairer(threshold, None).check(text)
        if fmt is OutFormat.json:
            sys.stdout.write(render(report, "json"))
        else:
            Console(highlight=False).print(render(report, "terminal", color=sys.stdout.isatty()), end="")
        raise typer.Exit(0)
    run_guarded(go)


def _fixed(file: str, output: str | None, max_bytes: int, threshold, min_confidence, restore_threshold, restorer):
    """The fix of ``file``, once ``output`` (if any) is known to be writable and the input is read, and
    the byte-order mark the input began with (the repaired text is written back with it)."""
    if output:
        check_output(output, [file])
    text, bom = read_input(file, max_bytes)
    return load_repairer(threshold, min_confidence, restore=True, restore_threshold=restore_threshold,
                         restorer=restorer.value).fix(text), bom


@app.command()
def fix(file: str = FileArg, output: Optional[str] = typer.Option(None, "--output", "-o",
                                                                   help="Write here instead of standard output."),
        fmt: OutFormat = typer.Option(OutFormat.text, "--format", "-f"),
        threshold: Optional[float] = ThresholdOpt, min_confidence: Optional[float] = ConfidenceOpt,
        restore_threshold: Optional[float] = RestoreOpt, restorer: RestorerChoice = RestorerOpt,
        max_bytes: int = MaxBytesOpt) -> None:
    """Restore the original wording and print (or write) the repaired text."""
    def go():
        result, bom = _fixed(file, output, max_bytes, threshold, min_confidence, restore_threshold, restorer)
        # JSON offsets point into the text after the mark; the repaired text keeps the input's mark
        payload = render(result, "json") if fmt is OutFormat.json else bom + result.text
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
        result, _ = _fixed(file, html, max_bytes, threshold, min_confidence, restore_threshold, restorer)
        if html:
            write_atomic(html, render(result, "html"))
        use_color = sys.stdout.isatty() if color is None else color
        if fmt is DiffFormat.terminal:
            view = "side-by-side" if side_by_side else "terminal"
            out = Console(highlight=False, force_terminal=use_color, no_color=not use_color)
            sys.stdout.write(render(result, view, color=use_color, width=out.width))
        else:
            sys.stdout.write(render(result, fmt.value))
        if html:
            err.print(f"HTML diff → {html}")
    run_guarded(go)


