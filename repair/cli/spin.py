"""``repair spin``: make spun text with a thesaurus (training and test data)."""
from __future__ import annotations

import sys

import typer

from repair.cli.app import FileArg, MaxBytesOpt, OutFormat, app, run_guarded
from repair.errors import InputError
from repair.textio import read_text


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

        from repair.text.spinner import Spinner, Thesaurus

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


