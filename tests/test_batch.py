"""repair batch: every input format, every bad-record kind, nothing lost, resume, engines."""
from __future__ import annotations

import gzip
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from repair.batch import BatchError, Options, read, run
from repair.doc import Edit, Report, Result, Sentence, Signature

ROOT = Path(__file__).resolve().parents[1]
SIG = Signature("stub", None, 0.5, "test")


class StubRepairer:
    """Scores a sentence 0.99 when it contains 'got here', else 0.1: the batch machinery, not a model."""

    def _sentences(self, text, limit=None):
        out, pos = [], 0
        for part in [p for p in text.split(". ") if p][:limit]:
            start = text.index(part, pos)
            pos = start + len(part)
            score = 0.99 if "got here" in part else 0.1
            out.append(Sentence(start, pos, part, score, score >= 0.5))
        return out

    def check(self, text, threshold=None):
        return Report(text, self._sentences(text), SIG)

    def check_many(self, texts, threshold=None, max_sentences=None):
        return [Report(t, self._sentences(t, max_sentences), SIG) for t in texts]

    def fix(self, text, threshold=None, min_confidence=None):
        if "explode" in text:
            raise RuntimeError("boom")
        i = text.find("got here")
        edits = [Edit(i, i + 8, "got here", "came", 0.95)] if i >= 0 else []
        from repair.doc import apply_edits

        return Result(text, apply_edits(text, edits), self._sentences(text), edits, SIG)


GOOD = [{"id": "a", "text": "Blinken got here on Tuesday. He met ministers."},
        {"id": "b", "text": "The talks went well. Trade was discussed."},
        {"id": "c", "text": "Officials got here late. Nothing was agreed."}]


def write_jsonl(path: Path, rows, extra_lines: list[bytes] = ()):
    data = b"".join(json.dumps(r).encode() + b"\n" for r in rows) + b"".join(extra_lines)
    if path.name.endswith(".gz"):
        data = gzip.compress(data)
    elif path.name.endswith(".zst"):
        import zstandard

        data = zstandard.ZstdCompressor().compress(data)
    path.write_bytes(data)


def lines(path: Path) -> list[dict]:
    return [json.loads(l) for l in path.read_text(encoding="utf-8").splitlines()]


@pytest.mark.parametrize("name", ["in.jsonl", "in.jsonl.gz", "in.jsonl.zst"])
def test_jsonl_formats_keep_fields_and_add_scores(tmp_path, name):
    src = tmp_path / name
    write_jsonl(src, [dict(r, extra=k) for k, r in enumerate(GOOD)])
    out = tmp_path / "out.jsonl"
    summary = run([src], out, repairer=StubRepairer())
    rows = lines(out)
    assert [r["id"] for r in rows] == ["a", "b", "c"]
    assert [r["extra"] for r in rows] == [0, 1, 2]
    assert rows[0]["spin_score"] == 0.7683 and rows[1]["spin_score"] == 0.1  # sentence log-odds pooled
    assert rows[0]["spin_flagged"] == [{"start": 0, "end": 27, "score": 0.99}]
    assert summary.documents == 3 and summary.flagged == 2 and summary.errors == 0
    assert not (tmp_path / "out.jsonl.parts").exists()


def test_parquet_in_and_out(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    src = tmp_path / "in.parquet"
    pq.write_table(pa.Table.from_pylist(GOOD), src)
    out = tmp_path / "out.parquet"
    run([src], out, options=Options(mode="fix", chunk_size=2), repairer=StubRepairer())
    table = pq.read_table(out).to_pylist()
    assert [r["id"] for r in table] == ["a", "b", "c"]
    assert table[0]["restored_text"].startswith("Blinken came on Tuesday")
    assert json.loads(table[0]["spin_edits"])[0]["after"] == "came"


def test_txt_directory(tmp_path):
    d = tmp_path / "docs"
    (d / "sub").mkdir(parents=True)
    (d / "one.txt").write_text(GOOD[0]["text"])
    (d / "sub" / "two.txt").write_text(GOOD[1]["text"])
    (d / "latin1.txt").write_bytes("caf\xe9 au lait.".encode("latin-1"))
    (d / "empty.txt").write_text("  \n")
    (d / "notes.md").write_text("ignored")
    out = tmp_path / "out.jsonl"
    summary = run([d], out, repairer=StubRepairer())
    assert [r["id"] for r in lines(out)] == ["one.txt", "sub/two.txt"]
    errors = {e["record"]["id"]: e["reason"] for e in lines(tmp_path / "out.jsonl.errors.jsonl")}
    assert set(errors) == {"latin1.txt", "empty.txt"}
    assert "UTF-8" in errors["latin1.txt"] and "empty" in errors["empty.txt"]
    assert summary.errors == 2


def test_every_bad_record_goes_to_the_errors_file_with_its_reason(tmp_path):
    src = tmp_path / "in.jsonl"
    bad = [b'{"id": "e", "text": ""}\n', b'{"id": "m"}\n', b'{"id": "n", "text": 7}\n', b'{broken\n', b'[1, 2]\n',
           b'{"id": "u", "text": "caf\xe9"}\n', b'{"id": "big", "text": "' + b"word " * 400 + b'"}\n', b"\n"]
    write_jsonl(src, GOOD, bad)
    out = tmp_path / "out.jsonl"
    summary = run([src], out, options=Options(max_chars=1000, chunk_size=3), repairer=StubRepairer())
    reasons = [e["reason"] for e in lines(tmp_path / "out.jsonl.errors.jsonl")]
    assert len(lines(out)) == 3 and summary.errors == 7
    for expected in ("empty text", "missing field 'text'", "is int, expected a string", "malformed JSON",
                     "malformed record", "not valid UTF-8", "oversized document"):
        assert sum(expected in r for r in reasons) == 1, (expected, reasons)
    sources = [e["source"] for e in lines(tmp_path / "out.jsonl.errors.jsonl")]
    assert sources[0].endswith(":4") and sources[-1].endswith(":10")  # the blank line 11 is not a record


@pytest.mark.parametrize("name", ["in.jsonl.gz", "in.jsonl.zst"])
def test_a_truncated_compressed_input_keeps_what_was_read_and_names_the_damage(tmp_path, name):
    """Hardening: every record before the damage reaches the output; the damage is an error row."""
    rows = [{"id": i, "text": f"Record {i} got here. " * 30} for i in range(3000)]
    whole = tmp_path / name
    write_jsonl(whole, rows)
    src = tmp_path / ("cut-" + name)
    src.write_bytes(whole.read_bytes()[:len(whole.read_bytes()) // 3])
    out = tmp_path / "out.jsonl"
    summary = run([src], out, options=Options(chunk_size=500), repairer=StubRepairer())
    got = lines(out)
    errors = lines(tmp_path / "out.jsonl.errors.jsonl")
    assert 0 < len(got) < 3000 and [r["id"] for r in got] == list(range(len(got)))
    assert len(errors) == 1 and "truncated or corrupt compressed file" in errors[0]["reason"]
    assert errors[0]["source"].startswith(str(src)) and summary.errors == 1


def test_a_bom_a_lone_surrogate_and_integer_ids_are_handled(tmp_path):
    """Hardening: a UTF-8 byte-order mark does not spoil the first record; a record holding a lone
    surrogate escape is an error row (not a crash on every rerun); ids keep their type."""
    src = tmp_path / "in.jsonl"
    src.write_bytes(b"\xef\xbb\xbf" + json.dumps({"id": 1, "text": GOOD[0]["text"]}).encode() + b"\n"
                    + b'{"id": 2, "text": "bad \\ud83d here"}\n' + json.dumps({"id": 3, "text": "Fine."}).encode() + b"\n")
    for out in (tmp_path / "out.jsonl", tmp_path / "out.parquet"):
        run([src], out, options=Options(mode="fix"), repairer=StubRepairer())
        if out.suffix == ".jsonl":
            got = lines(out)
        else:
            import pyarrow.parquet as pq

            got = pq.read_table(out).to_pylist()
        assert [r["id"] for r in got] == [1, 3]  # integers, in both formats
        errors = lines(out.with_name(out.name + ".errors.jsonl"))
        assert len(errors) == 1 and "lone surrogate" in errors[0]["reason"] and "ud83d" in errors[0]["record"]


def test_parquet_output_keeps_one_schema_across_chunks(tmp_path):
    """Hardening: a later chunk with an extra field, or null where an earlier one had a string, is
    written under one schema (the union of the fields, each with one type)."""
    import pyarrow.parquet as pq

    rows = [{"id": 1, "text": "One got here.", "tag": None}, {"id": 2, "text": "Two.", "tag": None},
            {"id": 3, "text": "Three.", "tag": "x", "extra": 1.5}, {"id": 4, "text": "Four.", "tag": "y"}]
    src = tmp_path / "in.jsonl"
    write_jsonl(src, rows)
    out = tmp_path / "out.parquet"
    run([src], out, options=Options(chunk_size=2), repairer=StubRepairer())
    table = pq.read_table(out)
    got = table.to_pylist()
    assert [r["id"] for r in got] == [1, 2, 3, 4] and [r["tag"] for r in got] == [None, None, "x", "y"]
    assert [r["extra"] for r in got] == [None, None, 1.5, None]
    assert str(table.schema.field("id").type) == "int64" and str(table.schema.field("tag").type) == "string"


def test_a_document_that_crashes_the_model_is_an_error_not_a_lost_run(tmp_path):
    src = tmp_path / "in.jsonl"
    write_jsonl(src, GOOD + [{"id": "x", "text": "This will explode. Sorry."}])
    out = tmp_path / "out.jsonl"
    run([src], out, options=Options(mode="fix"), repairer=StubRepairer())
    assert len(lines(out)) == 3
    assert "RuntimeError: boom" in lines(tmp_path / "out.jsonl.errors.jsonl")[0]["reason"]


def test_min_score_sends_filtered_documents_to_the_exclusion_file(tmp_path):
    src = tmp_path / "in.jsonl"
    write_jsonl(src, GOOD)
    out = tmp_path / "clean.jsonl"
    run([src], out, options=Options(min_score=0.5), repairer=StubRepairer())
    assert [r["id"] for r in lines(out)] == ["b"]
    excluded = lines(tmp_path / "clean.jsonl.excluded.jsonl")
    assert [e["record"]["id"] for e in excluded] == ["a", "c"]
    assert excluded[0]["reason"] == "spin score 0.7683 >= 0.5"  # [0.99, 0.1] pooled
    out2 = tmp_path / "spun.jsonl"
    run([src], out2, options=Options(min_score=0.5, keep="spun"), repairer=StubRepairer())
    assert [r["id"] for r in lines(out2)] == ["a", "c"]


def test_triage_clears_documents_that_look_clean_early(tmp_path):
    src = tmp_path / "in.jsonl"
    long_clean = {"id": "long", "text": ". ".join(["A calm sentence"] * 6 + ["It got here at last"]) + "."}
    write_jsonl(src, [long_clean, GOOD[0]])
    out = tmp_path / "out.jsonl"
    run([src], out, options=Options(triage=3), repairer=StubRepairer())
    first, second = lines(out)
    assert first["spin_sentences"] == 3 and "cleared" in first["spin_triage"]  # the spun tail is never seen
    assert second["spin_sentences"] == 2 and "spin_triage" not in second


def test_spin_filter_step_streams_and_reports_every_drop():
    from repair.batch import SpinFilter

    dropped = []
    step = SpinFilter(StubRepairer(), min_score=0.5, exclusion_writer=dropped.append, batch_size=2)
    kept = list(step(iter(GOOD + [{"id": "d"}])))
    assert [d["id"] for d in kept] == ["b"] and kept[0]["spin_score"] == pytest.approx(0.1)
    assert [(r["record"].get("id"), r["reason"][:10]) for r in dropped] == [
        ("a", "spin score"), ("c", "spin score"), ("d", "missing fi")]


def test_bad_job_setup_is_a_clear_error(tmp_path):
    src = tmp_path / "in.jsonl"
    write_jsonl(src, GOOD)
    with pytest.raises(BatchError, match="no such file"):
        run([tmp_path / "missing.jsonl"], tmp_path / "o.jsonl", repairer=StubRepairer())
    with pytest.raises(BatchError, match="unsupported input"):
        (tmp_path / "x.csv").write_text("a,b")
        run([tmp_path / "x.csv"], tmp_path / "o.jsonl", repairer=StubRepairer())
    with pytest.raises(BatchError, match="must end in"):
        run([src], tmp_path / "o.csv", repairer=StubRepairer())
    run([src], tmp_path / "o.jsonl", repairer=StubRepairer())
    (tmp_path / "o.jsonl.parts").mkdir()
    (tmp_path / "o.jsonl.parts" / "job.json").write_text('{"fingerprint": "other"}')
    with pytest.raises(BatchError, match="different job"):
        run([src], tmp_path / "o.jsonl", repairer=StubRepairer())


def test_a_resume_with_another_detector_is_refused(tmp_path):
    """The model choice is part of the job: resuming a default-detector run with --detector fast (or
    --int8) would mix the scores of two models in one output."""
    src = tmp_path / "in.jsonl"
    write_jsonl(src, GOOD)
    opts = Options()
    assert opts.fingerprint([src], {"detector": "default", "int8": False}) == opts.fingerprint([src])
    assert opts.fingerprint([src], {"detector": "fast"}) != opts.fingerprint([src])
    assert opts.fingerprint([src], {"int8": True}) != opts.fingerprint([src])
    parts = tmp_path / "o.jsonl.parts"
    parts.mkdir()  # an interrupted default run: its job file, no chunk done yet
    (parts / "job.json").write_text(json.dumps({"fingerprint": opts.fingerprint([src], {"detector": "default"})}))
    with pytest.raises(BatchError, match="different job"):
        run([src], tmp_path / "o.jsonl", repairer_kwargs={"detector": "fast"})


def test_read_numbers_records_across_inputs(tmp_path):
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    write_jsonl(a, GOOD[:2])
    write_jsonl(b, GOOD[2:])
    recs = list(read([a, b], Options()))
    assert [r.key for r in recs] == [0, 1, 2] and recs[2].source.endswith("b.jsonl:1")


def test_resume_skips_finished_chunks_and_gives_the_same_output(tmp_path):
    src = tmp_path / "in.jsonl"
    write_jsonl(src, GOOD * 4)
    full = tmp_path / "full.jsonl"
    run([src], full, options=Options(chunk_size=5), repairer=StubRepairer())

    class Dies(StubRepairer):
        calls = 0

        def check_many(self, texts, **kw):
            Dies.calls += 1
            if Dies.calls == 2:
                raise KeyboardInterrupt
            return super().check_many(texts, **kw)

    out = tmp_path / "out.jsonl"
    with pytest.raises(KeyboardInterrupt):
        run([src], out, options=Options(chunk_size=5), repairer=Dies())
    assert not out.exists() and len(list((tmp_path / "out.jsonl.parts").glob("part-*.jsonl"))) == 1
    summary = run([src], out, options=Options(chunk_size=5), repairer=StubRepairer())
    assert summary.skipped_chunks == 1 and summary.documents == 7
    assert out.read_bytes() == full.read_bytes()


# --- the real command and the real detector -------------------------------------------------------

def _cli(*args, **kw):
    return subprocess.Popen([sys.executable, "-m", "repair.cli", "batch", *map(str, args)], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)


def _docs(tmp_path, n=24) -> Path:
    seeds = sorted((ROOT / "seeds").glob("*.txt"))
    src = tmp_path / "in.jsonl"
    write_jsonl(src, [{"id": i, "text": seeds[i % len(seeds)].read_text()} for i in range(n)],
                [b"{not json\n"])
    return src


@pytest.mark.model
def test_kill_minus_9_then_rerun_equals_an_uninterrupted_run(tmp_path):
    src = _docs(tmp_path)
    ref = tmp_path / "ref.jsonl"
    p = _cli(src, "-o", ref, "--chunk-size", 2, "-q")
    _, err = p.communicate(timeout=600)
    assert p.returncode == 0, err
    assert "models loaded in" in err  # the summary keeps model loading apart from throughput
    out = tmp_path / "out.jsonl"
    p = _cli(src, "-o", out, "--chunk-size", 2, "-q", start_new_session=True)
    parts = tmp_path / "out.jsonl.parts"
    deadline = time.time() + 300
    while time.time() < deadline and len(list(parts.glob("part-*.jsonl"))) < 3:
        time.sleep(0.05)
    os.killpg(p.pid, signal.SIGKILL)
    p.wait()
    assert not out.exists(), "no final output may appear before the job is complete"
    done = len(list(parts.glob("part-*.jsonl")))
    assert 3 <= done < 13
    p = _cli(src, "-o", out, "--chunk-size", 2, "-q")
    _, err = p.communicate(timeout=600)
    assert p.returncode == 0, err
    assert f"{done} chunks resumed" in err.replace("\n", " ")
    assert out.read_bytes() == ref.read_bytes()
    assert (tmp_path / "out.jsonl.errors.jsonl").read_bytes() == (tmp_path / "ref.jsonl.errors.jsonl").read_bytes()
    assert len(lines(out)) == 24


@pytest.mark.model
def test_two_workers_give_the_same_output_as_one(tmp_path):
    src = _docs(tmp_path, 8)
    one, two = tmp_path / "one.jsonl", tmp_path / "two.jsonl"
    for out, w in ((one, 1), (two, 2)):
        p = _cli(src, "-o", out, "--chunk-size", 2, "--workers", w, "-q")
        _, err = p.communicate(timeout=600)
        assert p.returncode == 0, err
        assert "models loaded in" in err, "model loading is reported apart from the documents/s"
    assert one.read_bytes() == two.read_bytes()


def test_a_worker_that_cannot_load_the_models_stops_the_job_with_one_line(tmp_path):
    src = tmp_path / "in.jsonl"
    src.write_text('{"text": "One sentence."}\n')
    with pytest.raises(BatchError, match="a worker could not load the models: RuntimeError"):
        run([src], tmp_path / "out.jsonl", workers=2, repairer_kwargs={"device": "no-such-device"})
    assert not (tmp_path / "out.jsonl").exists()


@pytest.mark.model
def test_ray_engine_on_a_local_cluster(tmp_path):
    pytest.importorskip("ray", reason="Ray is an optional dependency: pip install 'repair[ray]'")
    src = _docs(tmp_path, 6)
    local, ray_out = tmp_path / "local.jsonl", tmp_path / "ray.jsonl"
    for out, extra in ((local, []), (ray_out, ["--engine", "ray", "--workers", 1])):
        p = _cli(src, "-o", out, "--chunk-size", 2, "-q", *extra)
        _, err = p.communicate(timeout=900)
        assert p.returncode == 0, err
    assert ray_out.read_bytes() == local.read_bytes()
    assert len(lines(tmp_path / "ray.jsonl.errors.jsonl")) == 1


def test_cli_reports_bad_setup_in_one_line(tmp_path):
    p = _cli(tmp_path / "nope.jsonl", "-o", tmp_path / "o.jsonl")
    _, err = p.communicate(timeout=120)
    assert p.returncode == 2 and "no such file" in err and "Traceback" not in err


def _interrupted_job(tmp_path):
    """An input and the parts directory of a default run of it that stopped before its first chunk."""
    src = tmp_path / "in.jsonl"
    write_jsonl(src, GOOD)
    parts = tmp_path / "o.jsonl.parts"
    parts.mkdir()
    (parts / "job.json").write_text(json.dumps({"fingerprint": Options().fingerprint([src])}))
    return src, parts


def test_an_input_edited_in_place_is_another_job(tmp_path):
    """Hardening: resume fingerprints content, not path and size: the same size, other bytes, is refused."""
    src, parts = _interrupted_job(tmp_path)
    data = src.read_bytes()
    src.write_bytes(data.replace(b"Blinken", b"Blinkem"))  # same size
    assert len(src.read_bytes()) == len(data)
    with pytest.raises(BatchError, match="different job"):
        run([src], tmp_path / "o.jsonl", repairer=StubRepairer())


def test_a_second_run_on_the_same_output_is_refused_while_the_first_lives(tmp_path):
    src, parts = _interrupted_job(tmp_path)
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        (parts / "lock").write_text(f"{other.pid}\n")
        with pytest.raises(BatchError, match=f"another run \\(pid {other.pid}\\)"):
            run([src], tmp_path / "o.jsonl", repairer=StubRepairer())
    finally:
        other.kill()
        other.wait()
    run([src], tmp_path / "o.jsonl", repairer=StubRepairer())  # its lock is stale now: taken over
    assert len(lines(tmp_path / "o.jsonl")) == 3 and not parts.exists()


def test_a_failed_start_leaves_nothing_that_blocks_the_next_job(tmp_path):
    src = tmp_path / "in.jsonl"
    write_jsonl(src, GOOD)
    with pytest.raises(ValueError, match="unknown detector"):
        run([src], tmp_path / "o.jsonl", repairer_kwargs={"detector": "no-such-detector"})
    assert not (tmp_path / "o.jsonl.parts").exists()
    run([src], tmp_path / "o.jsonl", options=Options(chunk_size=2), repairer=StubRepairer())  # other options: fine
    assert len(lines(tmp_path / "o.jsonl")) == 3
