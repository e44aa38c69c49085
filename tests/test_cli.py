"""The command line, through Typer's runner, on the real default models."""
import json

import pytest
from typer.testing import CliRunner

from repair.cli import app

runner = CliRunner()
SPUN = "Blinken mentioned the US would assist the nations deal with sanctions on Russia.\n"
SPUN_BEFORE = "The officers stated the struggle would proceed for a few years, in response to the information convention.\n"
SPUN_AFTER = "Officers stated the navy would keep within the metropolis for an additional 12 months.\n"


def run(*args, input=None):
    return runner.invoke(app, list(args), input=input)


def test_version_and_help():
    assert run("--version").output.startswith("repair 0.1.0")
    out = run("--help").output
    assert "check" in out and "fix" in out and "diff" in out


@pytest.mark.model
def test_check_json_shape(tmp_path):
    p = tmp_path / "a.txt"
    p.write_text(SPUN + "\nThe sky was clear.\n")
    res = run("check", str(p), "--format", "json")
    assert res.exit_code == 0, res.output
    d = json.loads(res.stdout)
    assert d["text"] == p.read_text() and d["edits"] == []
    assert [s["flagged"] for s in d["sentences"]] == [True, False]
    for s in d["sentences"]:
        assert {"start", "end", "score", "flagged"} <= set(s) and 0 <= s["score"] <= 1


@pytest.mark.model
def test_fix_from_stdin_and_threshold():
    text = SPUN_BEFORE + SPUN + SPUN_AFTER  # a spun article pasted in (one sentence alone is judged more warily)
    res = run("fix", "-", "--format", "json", input=text)
    assert res.exit_code == 0, res.output
    d = json.loads(res.stdout)
    assert any(e["before"] == "navy" and e["after"] == "military" for e in d["edits"])
    from repair.backends.resources import model_path

    floor = json.loads((model_path("restorer") / "repair.json").read_text())["operating_point"]["min_confidence"]
    for e in d["edits"]:
        assert text[e["start"]:e["end"]] == e["before"] and e["confidence"] >= floor  # the shipped operating point
    bar = sorted(e["confidence"] for e in d["edits"])[-1]
    strict = json.loads(run("fix", "-", "--format", "json", "-c", str(bar), input=text).stdout)["edits"]
    assert strict and all(e["confidence"] >= bar for e in strict) and len(strict) < len(d["edits"])
    fast = json.loads(run("fix", "-", "--format", "json", "--restorer", "fast", input=text).stdout)
    assert "restorer:minilm-corrector-v1" in fast["signature"]  # the fast restorer is the corrector
    assert any(e["before"] == "mentioned" and e["after"] == "said" for e in fast["edits"])
    # nothing is flagged at threshold 1 and nothing else restored at restore threshold 1: no change
    res = run("fix", "-", "--threshold", "1.0", "--restore-threshold", "1.0", input=text)
    assert res.stdout == text


@pytest.fixture
def article(tmp_path):
    p = tmp_path / "article.txt"
    # a spun article (spinners spin whole ones: the restorer weighs the document's score) with a clean line
    p.write_text("A headline\n\n" + SPUN_BEFORE + SPUN + SPUN_AFTER + "The sky was clear.\n")
    return p


@pytest.mark.model
def test_fix_writes_output_file(tmp_path, article):
    out = tmp_path / "fixed.txt"
    res = run("fix", str(article), "-o", str(out))
    assert res.exit_code == 0, res.output
    fixed = out.read_text()
    # the restored word is in; the headline and the clean sentence are untouched; the lines are kept
    assert "the military would" in fixed and "navy" not in fixed
    assert fixed.startswith("A headline\n\n") and fixed.endswith("The sky was clear.\n")
    assert fixed.count("\n") == article.read_text().count("\n")
    # a UTF-8 byte-order mark is written back where the input had one (JSON offsets ignore it)
    article.write_bytes(b"\xef\xbb\xbf" + article.read_bytes())
    assert run("fix", str(article), "-o", str(out)).exit_code == 0
    assert out.read_bytes().startswith(b"\xef\xbb\xbf") and out.read_text(encoding="utf-8-sig") == fixed
    res = run("fix", str(article), "--format", "json")
    assert res.exit_code == 0 and not res.stdout.startswith("\ufeff")
    assert json.loads(res.stdout)["text"] == fixed


@pytest.mark.model
def test_diff_views_and_html(tmp_path, article):
    page = tmp_path / "d.html"
    res = run("diff", str(article), "--html", str(page), "--no-color")
    assert res.exit_code == 0, res.output
    assert "navymilitary" in res.stdout and "flagged" in res.stdout
    assert "<del>navy</del><ins>military</ins>" in page.read_text()
    res = run("diff", str(article), "--side-by-side", "--no-color")
    assert res.exit_code == 0 and "restored" in res.stdout
    res = run("diff", str(article), "--format", "unified")
    assert res.exit_code == 0 and res.stdout.startswith("--- original")


@pytest.mark.parametrize("make, message", [
    (lambda d: d / "missing.txt", "no such file"),
    (lambda d: d, "is a directory"),
    (lambda d: (d / "e.txt").write_text("") or d / "e.txt", "empty"),
    (lambda d: (d / "b.bin").write_bytes(b"\0\1\2\3binary") and d / "b.bin", "binary"),
    (lambda d: (d / "l.txt").write_bytes(b"caf\xe9 au lait") and d / "l.txt", "UTF-8"),
])
@pytest.mark.parametrize("command", ["check", "fix", "diff"])
def test_bad_input_one_line_error_no_traceback(tmp_path, make, message, command):
    res = run(command, str(make(tmp_path)))
    assert res.exit_code == 2
    assert message in res.output and "Traceback" not in res.output
    assert len(res.output.strip().splitlines()) == 1


def test_huge_file_rejected(tmp_path):
    p = tmp_path / "big.txt"
    with open(p, "w") as f:
        f.write(("All quiet on the news desk today. " * 30 + "\n") * 50_000)  # ~50 MB
    res = run("fix", str(p), "-o", str(tmp_path / "out.txt"))
    assert res.exit_code == 2 and "too large" in res.output
    assert not (tmp_path / "out.txt").exists()


def test_output_onto_input_refused_and_input_untouched(tmp_path):
    p = tmp_path / "a.txt"
    p.write_text(SPUN)
    res = run("fix", str(p), "-o", str(p))
    assert res.exit_code == 2 and "overwrite the input" in res.output
    assert p.read_text() == SPUN


def test_failed_run_leaves_no_output_file(tmp_path):
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"\xff\xfe broken")
    res = run("fix", str(bad), "-o", str(tmp_path / "out.txt"))
    assert res.exit_code == 2 and list(tmp_path.iterdir()) == [bad]


def test_bad_precision_in_the_environment_is_one_line(tmp_path):
    (tmp_path / "a.txt").write_text("The cat sat on the mat.\n")
    out = runner.invoke(app, ["check", str(tmp_path / "a.txt")], env={"REPAIR_PRECISION": "half"})
    assert out.exit_code == 2 and "Traceback" not in out.output
    assert out.output.strip().splitlines() == ["error: REPAIR_PRECISION: unknown precision 'half' (auto, fp32, bf16)"]


def test_closed_standard_input_is_one_line(tmp_path):
    import os
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-m", "repair.cli", "check", "-"], capture_output=True, text=True,
                          preexec_fn=lambda: os.close(0), timeout=120)
    assert proc.returncode == 2 and "standard input is closed" in proc.stderr
    assert "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
