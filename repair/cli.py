"""The ``repair`` command line: check, fix and diff a document."""
from __future__ import annotations

import sys
from enum import Enum
from typing import Optional

import typer
from rich.console import Console

from . import __version__
from .pipeline import DEFAULT_MIN_CONFIDENCE, DEFAULT_THRESHOLD, InputError
from .textio import MAX_BYTES, check_output, read_text, write_atomic

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Find and undo spun content: text an article spinner ran through a thesaurus.")
err = Console(stderr=True, highlight=False)


class OutFormat(str, Enum):
    text = "text"
    json = "json"


class DiffFormat(str, Enum):
    terminal = "terminal"
    unified = "unified"
    json = "json"


def fail(message: str, code: int = 2) -> None:
    err.print(f"[bold red]error:[/] {message}", soft_wrap=True)
    raise typer.Exit(code)


def load_repairer(threshold: float, min_confidence: float):
    from .lm import ModelUnavailable
    from .pipeline import Repairer

    try:
        if err.is_terminal:
            with err.status("loading models (the first run converts SmolLM2 once, ~30 s)…"):
                return Repairer(threshold=threshold, min_confidence=min_confidence)
        return Repairer(threshold=threshold, min_confidence=min_confidence)
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
ThresholdOpt = typer.Option(DEFAULT_THRESHOLD, "--threshold", "-t", min=0.0, max=1.0,
                            help="Flag sentences whose spin score is at least this.")
ConfidenceOpt = typer.Option(DEFAULT_MIN_CONFIDENCE, "--min-confidence", "-c", min=0.0, max=1.0,
                             help="Withhold edits less confident than this.")
MaxBytesOpt = typer.Option(MAX_BYTES, "--max-bytes", help="Refuse inputs larger than this many bytes.")


@app.command()
def check(file: str = FileArg, fmt: OutFormat = typer.Option(OutFormat.text, "--format", "-f"),
          threshold: float = ThresholdOpt, max_bytes: int = MaxBytesOpt) -> None:
    """Score every sentence for spinning (detection only)."""
    def go():
        text = read_text(file, max_bytes)
        report = load_repairer(threshold, DEFAULT_MIN_CONFIDENCE).check(text)
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
        threshold: float = ThresholdOpt, min_confidence: float = ConfidenceOpt,
        max_bytes: int = MaxBytesOpt) -> None:
    """Restore the original wording and print (or write) the repaired text."""
    def go():
        if output:
            check_output(output, [file])
        text = read_text(file, max_bytes)
        result = load_repairer(threshold, min_confidence).fix(text)
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
         threshold: float = ThresholdOpt, min_confidence: float = ConfidenceOpt,
         color: Optional[bool] = typer.Option(None, "--color/--no-color", help="Default: when writing to a terminal."),
         max_bytes: int = MaxBytesOpt) -> None:
    """Show each change with its confidence and every sentence's spin score."""
    def go():
        if html:
            check_output(html, [file])
        text = read_text(file, max_bytes)
        result = load_repairer(threshold, min_confidence).fix(text)
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


if __name__ == "__main__":
    app()
