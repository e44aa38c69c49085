"""The ``repair`` application and what its commands share: one-line errors, the model loading, the
options that several commands take."""
from __future__ import annotations

import sys
from enum import Enum

import typer
from rich.console import Console

from repair import config, registry
from repair._version import __version__
from repair.errors import InputError, ModelUnavailable

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Find and undo spun content: text an article spinner ran through a thesaurus.")
err = Console(stderr=True, highlight=False)


class OutFormat(str, Enum):
    text = "text"
    json = "json"


# the choices come from the registry: a registered component is a choice here too
DetectorChoice = Enum("DetectorChoice", {n: n for n in registry.detectors.names()}, type=str)
RestorerChoice = Enum("RestorerChoice", {n: n for n in registry.restorers.names()}, type=str)


def fail(message: str, code: int = 2) -> None:
    err.print(f"[bold red]error:[/] {message}", soft_wrap=True)
    raise typer.Exit(code)


def load_repairer(threshold: float | None, min_confidence: float | None, restore: bool = False,
                  restore_threshold: float | None = None, restorer: str = "default"):
    """The default Repairer; with ``restore`` also its restorer (SmolLM2, converted once on first use)."""
    from repair.pipeline import Repairer

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
    try:
        config.precision(None)  # a bad $REPAIR_PRECISION ends here, in one line, before any work
    except ValueError as e:
        fail(f"REPAIR_PRECISION: {e}", 2)


FileArg = typer.Argument(..., help="A UTF-8 text file, or - for standard input.", show_default=False)
ThresholdOpt = typer.Option(None, "--threshold", "-t", min=0.0, max=1.0, show_default=False,
                            help="Flag sentences whose spin score is at least this [default: the detector's "
                                 "operating point, in its repair.json].")
ConfidenceOpt = typer.Option(None, "--min-confidence", "-c", min=0.0, max=1.0, show_default=False,
                             help="Withhold edits less confident than this [default: the restorer's tuned "
                                  "operating point].")
RestoreOpt = typer.Option(None, "--restore-threshold", "-r", min=0.0, max=1.0, show_default=False,
                          help="Also restore unflagged sentences scoring at least this [default: the restorer's "
                               "tuned operating point].")
RestorerOpt = typer.Option(RestorerChoice("default"), "--restorer", help="The restorer: " + registry.restorers.describe() + ".")
DetectorOpt = typer.Option(DetectorChoice("default"), "--detector", help="The detector: " + registry.detectors.describe() + ".")
MaxBytesOpt = typer.Option(config.MAX_BYTES, "--max-bytes", help="Refuse inputs larger than this many bytes.")
