"""Render a check or a fix for people and programs: terminal, side-by-side, HTML, JSON, unified diff."""
from __future__ import annotations

import difflib
import html
import io
import json
import unicodedata
from typing import TYPE_CHECKING, Literal

from rich.console import Console
from rich.table import Table
from rich.text import Text

if TYPE_CHECKING:
    from repair.doc import Edit, Report, Result, Sentence

RenderFormat = Literal["terminal", "html", "json", "unified", "side-by-side"]
FORMATS = ("terminal", "side-by-side", "html", "json", "unified")


def render(outcome: "Report | Result", fmt: RenderFormat = "terminal", *, width: int = 100, color: bool = True) -> str:
    """``outcome`` (a check's report or a fix's result) drawn in ``fmt``; ``width`` and ``color`` are for
    the terminal views."""
    if fmt == "json":
        return json.dumps(outcome.to_dict(), ensure_ascii=False, indent=2) + "\n"
    if fmt == "unified":
        return unified(outcome)
    if fmt == "html":
        return to_html(outcome)
    if fmt in ("terminal", "side-by-side"):
        buf = io.StringIO()
        console = Console(file=buf, width=width, force_terminal=color, no_color=not color,
                          color_system="truecolor" if color else None, highlight=False)
        console.print(terminal_view(outcome) if fmt == "terminal" else side_by_side(outcome))
        return buf.getvalue()
    raise ValueError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")


_BIDI = set(range(0x202A, 0x202F)) | set(range(0x2066, 0x206A))  # embedding, override and isolate controls


def visible(text: str) -> str:
    """``text`` with its control characters (bar line breaks and tabs) and bidirectional overrides
    written out as escapes (``\\x1b``, ``\\u202e``), so that a scraped page cannot set a terminal's title,
    clear its screen or reorder what it shows."""
    if text.isprintable():
        return text
    out = []
    for ch in text:
        o = ord(ch)
        if ch in "\n\r\t" or (unicodedata.category(ch) != "Cc" and o not in _BIDI):
            out.append(ch)
        else:
            out.append(f"\\x{o:02x}" if o < 0x100 else f"\\u{o:04x}")
    return "".join(out)


def _score_style(sent: "Sentence") -> str:
    """Red: flagged (at the run's threshold); yellow: unflagged but more likely spun than not; green."""
    return "bold red" if sent.flagged else "yellow" if sent.score >= 0.5 else "green"


def _edits_in(sent: "Sentence", edits: list["Edit"]) -> list["Edit"]:
    return [e for e in edits if sent.start <= e.start and e.end <= sent.end]


def _marked(text: str, base: int, edits: list["Edit"], *, show_before: bool, show_after: bool,
            spans=()) -> Text:
    """``text`` (which starts at ``base`` in the input) with deletions struck red and insertions green;
    suspicious spans without an edit are underlined."""
    out, pos = Text(), 0
    marks = sorted([(e.start - base, e.end - base, e) for e in edits] +
                   [(s.start - base, s.end - base, None) for s in spans
                    if not any(e.start < s.end and s.start < e.end for e in edits)], key=lambda m: m[0])
    for a, b, e in marks:
        if a < pos:
            continue
        out.append(visible(text[pos:a]))
        if e is None:
            out.append(visible(text[a:b]), style="underline yellow")
        else:
            if show_before:
                out.append(visible(e.before), style="red strike")
            if show_after:
                out.append(visible(e.after), style="bold green")
        pos = b
    out.append(visible(text[pos:]))
    return out


def terminal_view(outcome: "Report | Result") -> Text:
    """The original text, paragraph breaks intact, each sentence prefixed by its spin score."""
    src, out, pos = outcome.original, Text(), 0
    for sent in outcome.sentences:
        out.append(visible(src[pos:sent.start]))
        out.append(f"[{sent.score:.2f}] ", style=_score_style(sent))
        out.append_text(_marked(sent.text, sent.start, _edits_in(sent, outcome.edits),
                                show_before=True, show_after=True, spans=sent.spans))
        pos = sent.end
    out.append(visible(src[pos:]))
    flagged = len(outcome.flagged)
    out.append(f"\n\n{len(outcome.sentences)} sentences, {flagged} flagged, {len(outcome.edits)} edits · "
               f"document score {outcome.score:.2f} · {outcome.signature}", style="dim")
    return out


def side_by_side(outcome: "Report | Result") -> Table:
    table = Table(show_lines=True, expand=True)
    table.add_column("spin", justify="right", no_wrap=True)
    table.add_column("original", ratio=1)
    table.add_column("restored", ratio=1)
    for sent in outcome.sentences:
        edits = _edits_in(sent, outcome.edits)
        table.add_row(Text(f"{sent.score:.2f}", style=_score_style(sent)),
                      _marked(sent.text, sent.start, edits, show_before=True, show_after=False, spans=sent.spans),
                      _marked(sent.text, sent.start, edits, show_before=False, show_after=True))
    return table


def unified(outcome: "Report | Result") -> str:
    diff = difflib.unified_diff(outcome.original.splitlines(keepends=True), outcome.text.splitlines(keepends=True),
                                fromfile="original", tofile="restored")
    return "".join(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n" for line in diff)


_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>repair: {title}</title>
<style>
body {{ font: 17px/1.6 Georgia, serif; max-width: 46em; margin: 2em auto; padding: 0 1em; color: #222; }}
.s {{ border-radius: 3px; }}
del {{ color: #b00; background: #fdd; }}
ins {{ color: #060; background: #dfd; text-decoration: none; font-weight: bold; }}
.sus {{ border-bottom: 2px dotted #c80; }}
.meta {{ font: 13px/1.4 sans-serif; color: #666; border-top: 1px solid #ddd; margin-top: 2em; padding-top: .5em; }}
p {{ white-space: pre-wrap; }}
</style></head><body>
<p>{body}</p>
<div class="meta">{summary}<br>Sentence background: spin score (white 0 → red 1). Hover a sentence or an edit for
details.<br><code>{signature}</code></div>
</body></html>
"""


def to_html(outcome: "Report | Result") -> str:
    """A self-contained page: sentence heat by score, each edit with before/after and confidence on hover."""
    src, parts, pos = outcome.original, [], 0
    esc = html.escape
    for sent in outcome.sentences:
        parts.append(esc(src[pos:sent.start]))
        inner, p = [], sent.start
        for e in _edits_in(sent, outcome.edits):
            inner.append(esc(src[p:e.start]))
            tip = esc(f"{e.before} → {e.after} (confidence {e.confidence:.2f})", quote=True)
            inner.append(f'<span title="{tip}"><del>{esc(e.before)}</del><ins>{esc(e.after)}</ins></span>')
            p = e.end
        inner.append(esc(src[p:sent.end]))
        alpha = 0.45 * sent.score
        alone = f"; {sent.alone:.2f} on its own words" if abs(sent.alone - sent.score) >= 0.005 else ""
        tip = esc(f"spin score {sent.score:.2f}{alone}" + (" (flagged)" if sent.flagged else ""), quote=True)
        parts.append(f'<span class="s" style="background: rgba(220,40,40,{alpha:.3f})" title="{tip}">'
                     f'{"".join(inner)}</span>')
        pos = sent.end
    parts.append(esc(src[pos:]))
    summary = (f"{len(outcome.sentences)} sentences, {len(outcome.flagged)} flagged, {len(outcome.edits)} edits; "
               f"document score {outcome.score:.2f}")
    return _PAGE.format(title=esc(summary), body="".join(parts), summary=esc(summary), signature=esc(str(outcome.signature)))
