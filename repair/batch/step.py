"""One step of a job: a chunk of records scored (and restored), one row out for each record in."""
from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict

from repair.batch.readers import chunks, validate
from repair.doc import worst_mean
from repair.batch.records import Options, Record, Summary


def needs_full_detection(first_scores: list[float], n: int, cut: float) -> bool:
    """The ``--triage`` rule: given the scores of a document's first (at most ``n``) sentences, must the
    rest be scored too? Yes when the document is that short or the mean of its three worst sentences so
    far reaches ``cut`` (more sensitive than the document score, so that few spun documents are cleared)."""
    return len(first_scores) < n or worst_mean(first_scores) >= cut


def process(repairer, chunk: list[Record], opts: Options) -> tuple[list[tuple[str, dict]], Summary]:
    """Rows for one chunk: ``("out" | "errors" | "excluded", row)``, one per record, in input order."""
    stats = Summary()
    outcomes, failures = _outcomes(repairer, [r for r in chunk if r.error is None], opts)
    rows = []
    for r in chunk:
        error = r.error or failures.get(r.key)
        if error:
            stats.errors += 1
            rows.append(("errors", {"source": r.source, "reason": error,
                                    "record": r.fields if r.fields is not None else r.raw}))
            continue
        rows.append(_row(r, *outcomes[r.key], opts, stats))
    return rows, stats


def _outcomes(repairer, good: list[Record], opts: Options) -> tuple[dict[int, tuple], dict[int, str]]:
    """Each good record's (report or result, cleared by triage), by key, and the reason of each that failed."""
    outcomes: dict[int, tuple] = {}
    failures: dict[int, str] = {}
    if not good:
        return outcomes, failures
    texts = [r.text for r in good]
    try:
        if opts.mode == "fix":
            results = repairer.fix_many(texts, threshold=opts.threshold, min_confidence=opts.min_confidence)
            return {r.key: (res, False) for r, res in zip(good, results)}, failures
        if opts.triage:
            first = repairer.check_many(texts, threshold=opts.threshold, max_sentences=opts.triage)
            full = [i for i, rep in enumerate(first)
                    if needs_full_detection([x.alone for x in rep.sentences], opts.triage, opts.triage_score)]
            reports = list(first)
            for i, rep in zip(full, repairer.check_many([texts[i] for i in full], threshold=opts.threshold)):
                reports[i] = rep
            cleared = set(range(len(texts))) - set(full)
        else:
            reports, cleared = repairer.check_many(texts, threshold=opts.threshold), set()
        return {r.key: (rep, i in cleared) for i, (r, rep) in enumerate(zip(good, reports))}, failures
    except Exception:  # noqa: BLE001 - fall back to one document at a time to isolate the bad one
        for r in good:
            try:
                outcomes[r.key] = ((repairer.fix(r.text, threshold=opts.threshold, min_confidence=opts.min_confidence)
                                    if opts.mode == "fix" else repairer.check(r.text, threshold=opts.threshold)), False)
            except Exception as e:  # noqa: BLE001 - one bad document must not sink the run
                failures[r.key] = f"processing failed: {type(e).__name__}: {e}"
    return outcomes, failures


def _row(r: Record, res, cleared: bool, opts: Options, stats: Summary) -> tuple[str, dict]:
    """The record with its ``spin_*`` fields, for the output or (filtered by ``min_score``) the exclusion file."""
    row = dict(r.fields)
    row["spin_score"] = round(res.score, 4)
    row["spin_flagged"] = [{"start": s.start, "end": s.end, "score": round(s.score, 4)} for s in res.flagged]
    row["spin_sentences"] = len(res.sentences)
    if cleared:
        row["spin_triage"] = f"cleared on the first {opts.triage} sentences"
    if opts.mode == "fix":
        row["restored_text"] = res.text
        row["spin_edits"] = [asdict(e) for e in res.edits]
        stats.fixed += bool(res.edits)
        stats.edits += len(res.edits)
    row["spin_signature"] = str(res.signature)
    stats.documents += 1
    stats.sentences += len(res.sentences)
    stats.flagged += bool(res.flagged)
    if opts.min_score is not None and (res.score >= opts.min_score) != (opts.keep == "spun"):
        side = ">=" if res.score >= opts.min_score else "<"
        stats.excluded += 1
        return "excluded", {"source": r.source, "reason": f"spin score {res.score:.4f} {side} {opts.min_score}",
                            "record": row}
    return "out", row


class SpinFilter:
    """A filter step for document pipelines (datatrove habit): documents stream through, kept ones are
    yielded with their ``spin_*`` fields, and every dropped one goes to ``exclusion_writer(row)`` with
    its reason (spun at or above ``min_score``, or unusable)."""

    def __init__(self, repairer=None, *, min_score: float = 0.5, text_field: str = "text",
                 exclusion_writer: Callable[[dict], None] | None = None, batch_size: int = 64):
        if repairer is None:
            from repair.pipeline import Repairer

            repairer = Repairer()
        self.repairer, self.batch_size = repairer, batch_size
        self.opts = Options(text_field=text_field, min_score=min_score, keep="clean")
        self.exclusion_writer = exclusion_writer or (lambda row: None)

    def __call__(self, docs: Iterable[dict]) -> Iterator[dict]:
        def records():
            for i, doc in enumerate(docs):
                text, error = validate(doc, self.opts) if isinstance(doc, dict) else (None, "not a dict")
                yield Record(i, f"document {i}", doc if isinstance(doc, dict) else None, text, error,
                             None if isinstance(doc, dict) else repr(doc)[:200])

        for chunk in chunks(records(), self.batch_size):
            for kind, row in process(self.repairer, chunk, self.opts)[0]:
                if kind == "out":
                    yield row
                else:
                    self.exclusion_writer(row)
