"""Speed and memory of `repair`: cold start (empty model cache), warm start, and throughput.

    python scripts/bench.py                  # seeds only (no ../shared needed)
    python scripts/bench.py --slice 1000     # plus the first N sentences of devbench, detection only
                                             # and fix on its first N/5 spun sentences

Each measurement runs in a fresh process so that peak RSS is that of the measured work alone. The
tables go to docs/bench.md (``--out``) under a generated header that names the models, their operating
point and the command; the file is replaced only when every run has finished.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

CHILD = r"""
import json, resource, sys, time
t0 = time.perf_counter()
from repair import Repairer
mode, _, restorer = sys.argv[2].partition(":")  # e.g. fix-batch:fast
r = Repairer(restorer=restorer or "default")
if mode.startswith("fix"):
    r.restorer  # loaded with the models, not inside the timed work
load = time.perf_counter() - t0
texts = json.load(open(sys.argv[1]))
t1 = time.perf_counter()
n_sent = n_edits = 0
if mode == "check-batch":
    outs = r.check_many(texts)
elif mode == "fix-batch":
    outs = r.fix_many(texts)
else:
    outs = [r.fix(t) if mode == "fix" else r.check(t) for t in texts]
for out in outs:
    n_sent += len(out.sentences); n_edits += len(out.edits)
work = time.perf_counter() - t1
print(json.dumps({"load_s": load, "work_s": work, "sentences": n_sent, "edits": n_edits, "signature": str(out.signature),
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""

WRAP = ("import resource, subprocess, sys; rc = subprocess.run(sys.argv[1:]).returncode; "
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss); sys.exit(rc)")


def measure(texts, mode, cache_dir=None):
    env = dict(os.environ)
    if cache_dir:
        env["REPAIR_CACHE_DIR"] = cache_dir
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(texts, f)
    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", CHILD, f.name, mode], env=env, capture_output=True, text=True,
                         cwd=ROOT)
    wall = time.perf_counter() - t0
    os.unlink(f.name)
    if out.returncode:
        sys.exit(out.stderr[-2000:])
    res = json.loads(out.stdout.strip().splitlines()[-1])
    res["wall_s"] = wall
    res["sentences_per_s"] = res["sentences"] / res["work_s"] if res["work_s"] else float("inf")
    return res


def documents(bench: Path, n: int, words: int = 500, clean_only: bool = False) -> list[dict]:
    """``n`` documents of about ``words`` words: devbench sentences (spun and clean, in document order;
    ``clean_only``: its clean sentences only) when ../shared is there, else the seed articles; cycled
    to reach ``n``."""
    if bench.exists():
        recs = [json.loads(l) for l in bench.open(encoding="utf-8")]
        sents = [r["spun"] for r in recs if not clean_only or r["spinner"] == "none"]
    else:
        sents = [s for p in sorted((ROOT / "seeds").glob("*.txt")) for s in p.read_text().split("\n") if s.strip()]
    docs, cur, size = [], [], 0
    for s in sents:
        cur.append(s)
        size += len(s.split())
        if size >= words:
            docs.append(" ".join(cur))
            cur, size = [], 0
    return [{"id": i, "text": docs[i % len(docs)]} for i in range(n)]


def _write_jsonl(path: Path, docs: list[dict]) -> None:
    with path.open("w", encoding="utf-8") as f:
        for d in docs:
            f.write(json.dumps(d) + "\n")


def measure_batch(docs: list[dict], extra: list[str]) -> dict:
    """``repair batch`` in a fresh process (detect mode unless ``extra`` says otherwise)."""
    with tempfile.TemporaryDirectory() as tmp:
        src, out = Path(tmp) / "in.jsonl", Path(tmp) / "out.jsonl"
        _write_jsonl(src, docs)
        t0 = time.perf_counter()
        # a wrapper process, so that the peak RSS is that of this run's processes alone
        proc = subprocess.run([sys.executable, "-c", WRAP, sys.executable, "-m", "repair.cli", "batch", str(src),
                               "-o", str(out), "-q", *extra], capture_output=True, text=True, cwd=ROOT)
        wall = time.perf_counter() - t0
        if proc.returncode:
            sys.exit(proc.stderr[-2000:])
        peak = float(proc.stdout.strip().splitlines()[-1]) / 1024
        summary = proc.stderr
        secs = float(summary.split(" excluded in ")[1].split(" s")[0])
        load = float(summary.split("models loaded in ")[1].split(" s")[0]) if "models loaded in " in summary else 0.0
    # documents/s once the models are loaded (every worker loads them before the first document)
    return {"docs": len(docs), "wall_s": wall, "run_s": secs, "load_s": load, "docs_per_s": len(docs) / (secs - load),
            "peak_rss_mb": peak}


STUB_CHILD = r"""
import json, resource, sys
from repair import Repairer
from repair.batch import Options, run
from repair.detect import SentenceEvidence

class LengthDetector:  # stands in for the neural detector: the same pipeline, none of the model's time
    name = "stub-length"
    def detect(self, sentences):
        return [SentenceEvidence(min(1.0, len(s) / 400), [], []) for s in sentences]

summary = run([sys.argv[1]], sys.argv[2], repairer=Repairer(detector=LengthDetector()))
print(json.dumps({"docs": summary.documents, "seconds": summary.seconds,
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def measure_stream(docs: list[dict]) -> dict:
    """Peak RSS of the batch machinery (read, chunk, score, write parts, assemble) with a stand-in
    detector, so that 20,000 documents take a minute: does memory stay flat as the input grows?"""
    with tempfile.TemporaryDirectory() as tmp:
        src, out = Path(tmp) / "in.jsonl", Path(tmp) / "out.jsonl"
        _write_jsonl(src, docs)
        proc = subprocess.run([sys.executable, "-c", STUB_CHILD, str(src), str(out)], capture_output=True,
                              text=True, cwd=ROOT)
        if proc.returncode:
            sys.exit(proc.stderr[-2000:])
        return json.loads(proc.stdout.strip().splitlines()[-1])


def cascade_recall(bench: Path, settings: list[tuple[int, float]], int8: bool, fast: bool = False) -> list[dict]:
    """Document-level effect of ``--triage N`` (score the first N sentences; clear the document when
    their document score is below ``triage_score``) on devbench's documents (one per article, spinner
    and rate): the share of spun documents that still go on to full detection (recall), and the share
    of clean documents cleared early (the work saved)."""
    from collections import defaultdict

    from repair.batch import needs_full_detection
    from repair import Repairer

    recs = [json.loads(l) for l in bench.open(encoding="utf-8")]
    detector = Repairer(detector="fast" if fast else "default", int8=int8).detector
    scores = [e.score for e in detector.detect([r["spun"] for r in recs])]
    docs = defaultdict(list)
    for r, s in zip(recs, scores):
        docs[(r["doc"], r["spinner"], r["rate"])].append(s)
    rows = []
    for n, cut in settings:
        passed = {k: needs_full_detection(v[:n], n, cut) for k, v in docs.items()}
        row = {"n": n, "cut": cut}
        for sp in sorted({k[1] for k in docs} - {"none"}):
            spun = [k for k in docs if k[1] == sp]
            row[sp] = sum(passed[k] for k in spun) / len(spun)
        spun = [k for k in docs if k[1] != "none"]
        clean = [k for k in docs if k[1] == "none"]
        row["all"] = sum(passed[k] for k in spun) / len(spun)
        row["cleared"] = sum(not passed[k] for k in clean) / len(clean)
        row["docs"] = (len(spun), len(clean))
        rows.append(row)
    return rows


def header(argv: list[str]) -> list[str]:
    """What was measured, with what and when: the signature of every number below it."""
    import datetime

    from repair import __version__
    from repair.backends.hf import machine
    from repair.backends.resources import model_path

    def config(name):
        return json.loads((model_path(name) / "repair.json").read_text())

    det, fast, res = config("detector"), config("detector_fast"), config("restorer")
    point = res["operating_point"]
    confidence = "fitted reranker" if point.get("reranker") else "hand rule"
    return [
        "# Speed and memory", "",
        f"Generated by `make bench` (`python scripts/bench.py {' '.join(argv)}`); do not edit by hand. "
        f"{datetime.date.today()}, {machine()}, models on the CPU; every run is a fresh "
        f"process. repair {__version__}, detector {det['name']} ({det['trained']['steps']:,} steps), fast detector "
        f"{fast['name']} ({fast.get('layers')} layers, {fast['trained']['steps']:,} steps), restorer {res['name']} "
        f"({res['trained']['steps']:,} steps; operating point: {confidence}, min confidence {point['min_confidence']}, "
        f"restore threshold {point['restore_threshold']}, {point['pointed_branches']} pointed branches).", "",
        "Model load includes the restorer for fix runs; the cold-cache row converts SmolLM2 from the GGUF wheel "
        "first. `repair batch` rows give documents/s once the models are loaded; every worker loads its models "
        "before the first document, and the load time is the slowest worker's. The triage rows' document recall "
        "is computed on devbench's documents (one per article, spinner and rate); the stand-in-detector rows "
        "measure the memory of the batch machinery alone (reading, chunking, segmentation, parts, assembly). The "
        "accuracy of each detector is in docs/benchmarks.md (`make eval`). The worker rows cut the documents into "
        "small chunks (a worker takes whole chunks; the default chunk of 256 documents would leave the second "
        "worker idle). Timings on a shared 2-core machine vary by about 10% between runs.", ""]


def long_inputs(bench: Path, size: int) -> list[tuple[str, dict]]:
    """The per-sentence bound: ``size`` bytes of devbench text as one line without full stops against the
    same bytes as ordinary sentences (fix), and check on ten times that many bytes without full stops
    against ``size`` (memory should stay flat: the text is cut into bounded pieces, and each model holds
    a bounded number of them at once)."""
    sents = [json.loads(l)["spun"] for l in open(bench, encoding="utf-8")]
    text = " ".join(sents)
    while len(text.encode()) < 10 * size:
        text += " " + text
    plain = text.encode()[:size].decode("utf-8", "ignore")
    flat = plain.replace(". ", " ").replace(".", " ")
    big = text.encode()[:10 * size].decode("utf-8", "ignore").replace(". ", " ").replace(".", " ")
    kb = size // 1000
    return [(f"fix {kb:,} KB of ordinary sentences", measure([plain], "fix")),
            (f"fix the same {kb:,} KB as one line without full stops", measure([flat], "fix")),
            (f"check {kb:,} KB as one line without full stops", measure([flat], "check")),
            (f"check {10 * kb:,} KB as one line without full stops", measure([big], "check"))]


def long_page(bench: Path, size: int) -> list[str]:
    """The rows of :func:`long_inputs` under their own generated header, and what they mean against the
    bounds the hardening set (fix: within 3x of ordinary sentences, at most 2.5 GB; check: flat)."""
    import datetime

    from repair import __version__, config
    from repair.backends.hf import machine
    from repair.detect.rtd import CHUNK

    rows = dict(long_inputs(bench, size))
    fix_plain, fix_flat, check_small, check_big = rows.values()
    lines = ["# Long inputs", "",
             f"Generated by `make bench` (`python scripts/bench.py {' '.join(sys.argv[1:])}`); do not edit by hand. "
             f"{datetime.date.today()}, {machine()}, repair {__version__}, the "
             f"default models on the CPU (fix: `{fix_plain['signature']}`). The text is devbench's sentences joined; "
             f"\"without full stops\" removes every full stop, so the whole input is one sentence, which the pipeline "
             f"cuts into pieces of at most {config.MAX_SENTENCE_CHARS} characters; the detector holds the words of "
             f"{CHUNK} pieces at a time, the restorer the candidates of {config.RESTORE_CHUNK}. Every run is a fresh "
             "process; peak RSS is the process's.", "",
             "| run | wall s | model load s | work s | sentences or pieces | edits | peak RSS MB |", "|---|---|---|---|---|---|---|"]
    lines += [f"| {n} | {r['wall_s']:.1f} | {r['load_s']:.1f} | {r['work_s']:.1f} | {r['sentences']} | {r['edits']} | "
              f"{r['peak_rss_mb']:.0f} |" for n, r in rows.items()]
    ratio = fix_flat["work_s"] / fix_plain["work_s"]
    growth = check_big["peak_rss_mb"] / check_small["peak_rss_mb"] - 1
    lines += ["", f"- fix without full stops against the same bytes as sentences: {ratio:.2f}x the work time "
                  f"(bound: 3x), peak {fix_flat['peak_rss_mb']:,.0f} MB (bound: 2,500 MB).",
              f"- check of ten times the bytes: peak RSS {growth:+.1%} (bound: flat within 10%)."]
    for line in lines:
        print(line, flush=True)
    return lines


def article(text: str, words: int = 500) -> str:
    """The first whole paragraphs of ``text`` that hold about ``words`` words."""
    out, n = [], 0
    for para in text.split("\n"):
        if n >= words:
            break
        out.append(para)
        n += len(para.split())
    return "\n".join(out)


def serve_rows(text: str, seconds: float, clients=(1, 8)) -> tuple[list[dict], list[dict]]:
    """``repair serve`` in its own process, driven over HTTP: for ``/v1/check`` and ``/v1/fix`` of
    ``text``, the median latency and throughput with each number of concurrent clients (each client
    sends its requests one after another), then ``max(clients)`` clients for ``seconds``: requests
    that failed or got no answer, and the server's memory (VmRSS, sampled every 0.5 s) at the start,
    over the first half and over the second half."""
    import socket
    import statistics
    import threading
    import urllib.error
    import urllib.request
    from concurrent.futures import ThreadPoolExecutor

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen([sys.executable, "-m", "repair.cli", "serve", "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    samples: list[tuple[float, float]] = []
    stop = threading.Event()

    def sample():
        while not stop.wait(0.5):
            try:
                kb = next(int(l.split()[1]) for l in open(f"/proc/{proc.pid}/status") if l.startswith("VmRSS"))
            except (OSError, StopIteration):
                return
            samples.append((time.perf_counter(), kb / 1024))

    def post(endpoint: str) -> tuple[float, bool]:
        body = json.dumps({"text": text}).encode()
        req = urllib.request.Request(f"{url}/v1/{endpoint}", body, {"content-type": "application/json"})
        t = time.perf_counter()
        try:
            with urllib.request.urlopen(req, timeout=600) as res:
                ok = res.status == 200 and "sentences" in json.loads(res.read())
        except (urllib.error.URLError, OSError, ValueError):
            ok = False
        return time.perf_counter() - t, ok

    def load(endpoint: str, n_clients: int, per_client: int = 0, until: float = 0.0):
        """Each client posts ``per_client`` requests, or posts until ``until`` (a perf_counter time)."""
        def client(_):
            out = []
            while (len(out) < per_client) if per_client else (time.perf_counter() < until):
                out.append(post(endpoint))
            return out
        t = time.perf_counter()
        with ThreadPoolExecutor(n_clients) as ex:
            done = [x for xs in ex.map(client, range(n_clients)) for x in xs]
        return done, time.perf_counter() - t

    rows, soaks = [], []
    try:
        deadline = time.perf_counter() + 900
        while True:
            try:
                with urllib.request.urlopen(f"{url}/healthz", timeout=5) as res:
                    if res.status == 200:
                        break
            except (urllib.error.URLError, OSError):
                pass
            if proc.poll() is not None or time.perf_counter() > deadline:
                raise SystemExit("repair serve did not become ready")
            time.sleep(0.5)
        threading.Thread(target=sample, daemon=True).start()
        for endpoint, per in (("check", 10), ("fix", 2)):
            post(endpoint)  # warm: the first request of each kind pays for lazy work
            for c in clients:
                done, wall = load(endpoint, c, per_client=max(per // c * 2, 1) if c > 1 else per)
                lat = [t for t, ok in done if ok]
                rows.append({"endpoint": endpoint, "clients": c, "requests": len(done), "failed": len(done) - len(lat),
                             "median_s": statistics.median(lat) if lat else float("nan"),
                             "per_s": len(lat) / wall})
            t0 = time.perf_counter()
            done, wall = load(endpoint, max(clients), until=t0 + seconds)
            mid, end = t0 + wall / 2, t0 + wall
            rss = lambda a, b: max((m for t, m in samples if a <= t <= b), default=float("nan"))
            start_rss = next((m for t, m in samples if t >= t0), float("nan"))
            soaks.append({"endpoint": endpoint, "clients": max(clients), "seconds": wall, "requests": len(done),
                          "failed": sum(not ok for _, ok in done), "rss_start": start_rss,
                          "rss_first": rss(t0, mid), "rss_second": rss(mid, end)})
    finally:
        stop.set()
        proc.terminate()
        proc.wait(30)
    return rows, soaks


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--slice", type=int, default=0, help="also time detection on N devbench sentences")
    ap.add_argument("--bench", default=str(ROOT.parent / "shared" / "data" / "eval" / "devbench.jsonl"))
    ap.add_argument("--skip-cold", action="store_true", help="skip the cold-cache run (~30 s conversion)")
    ap.add_argument("--batch-docs", default="200", help="comma-separated document counts for `repair batch` "
                                                       "(500-word documents; e.g. 1000,20000 for the memory check)")
    ap.add_argument("--workers", default="1,2", help="worker counts to time `repair batch` with")
    ap.add_argument("--chunk-size", type=int, default=25, help="documents per chunk in the worker rows (a worker "
                                                              "takes whole chunks: fewer chunks than workers idles some)")
    ap.add_argument("--fix-docs", type=int, default=20, help="documents for `repair batch --fix` (1 worker)")
    ap.add_argument("--triage", default="", help="N:SCORE settings of the --triage cascade to measure (document "
                                                 "recall on devbench, clean documents cleared, throughput), e.g. 4:0.2")
    ap.add_argument("--stream-docs", default="", help="document counts for the memory check of the batch "
                                                      "machinery with a stand-in detector, e.g. 1000,20000")
    ap.add_argument("--long-bytes", type=int, default=0, help="bytes of text for the long-input rows (fix N bytes "
                                                             "without full stops against the same as sentences; "
                                                             "check 10N against N); their page goes to --long-out")
    ap.add_argument("--long-only", action="store_true", help="measure the long inputs only (docs/bench.md untouched)")
    ap.add_argument("--long-out", default=str(ROOT / "docs" / "bench-long.md"))
    ap.add_argument("--serve-seconds", type=float, default=0, help="also drive `repair serve` (latency and "
                    "throughput of /v1/check and /v1/fix of a 500-word article with 1 and 8 clients, then 8 clients "
                    "for this many seconds each); its table goes to --serve-out")
    ap.add_argument("--serve-only", action="store_true", help="measure `repair serve` only (docs/bench.md untouched)")
    ap.add_argument("--serve-out", default=str(ROOT / "docs" / "bench-serve.md"))
    ap.add_argument("--out", default=str(ROOT / "docs" / "bench.md"),
                    help="where the tables go (written when every run is done; '-' prints them only)")
    args = ap.parse_args()
    lines: list[str] = []

    def out(line: str = "") -> None:
        print(line, flush=True)
        lines.append(line)

    seeds = {p.stem[:3]: p.read_text(encoding="utf-8") for p in sorted((ROOT / "seeds").glob("*.txt"))}
    if args.serve_seconds:
        write_page(args.serve_out, serve_page(article(seeds["002"]), args.serve_seconds))
    if args.long_bytes and Path(args.bench).exists():
        write_page(args.long_out, long_page(Path(args.bench), args.long_bytes))
    if args.serve_only or args.long_only:
        return
    rows = []
    if not args.skip_cold:
        with tempfile.TemporaryDirectory() as cold:
            rows.append(("fix seeds/002, cold cache", measure([seeds["002"]], "fix", cold)))
    rows.append(("fix seeds/002, warm cache", measure([seeds["002"]], "fix")))
    rows.append(("check all 5 seeds", measure(list(seeds.values()), "check")))
    rows.append(("fix all 5 seeds", measure(list(seeds.values()), "fix")))
    if args.slice and Path(args.bench).exists():
        sents = [json.loads(l)["spun"] for _, l in zip(range(args.slice), open(args.bench, encoding="utf-8"))]
        rows.append((f"check {len(sents)} devbench sentences, one at a time", measure(sents, "check")))
        rows.append((f"check {len(sents)} devbench sentences, batched", measure(sents, "check-batch")))
        spun = [json.loads(l) for l in open(args.bench, encoding="utf-8")]
        spun = [r["spun"] for r in spun if r["edits"]][:args.slice // 5]
        rows.append((f"fix {len(spun)} spun devbench sentences, one at a time", measure(spun, "fix")))
        rows.append((f"fix {len(spun)} spun devbench sentences, batched", measure(spun, "fix-batch")))
        rows.append((f"fix {len(spun)} spun devbench sentences, batched, --restorer fast",
                     measure(spun, "fix-batch:fast")))
    out("| run | wall s | model load s | work s | sentences | sentences/s | edits | peak RSS MB |")
    out("|---|---|---|---|---|---|---|---|")
    for name, r in rows:
        out(f"| {name} | {r['wall_s']:.1f} | {r['load_s']:.1f} | {r['work_s']:.1f} | {r['sentences']} | "
              f"{r['sentences_per_s']:.2f} | {r['edits']} | {r['peak_rss_mb']:.0f} |")
    counts = [int(x) for x in args.batch_docs.split(",") if x]
    if counts:
        out(f"\n| repair batch (detect), chunks of {args.chunk_size} | documents | workers | run s (model load) | "
              "documents/s after load | peak RSS MB (largest process) |")
        out("|---|---|---|---|---|---|")
        for n in counts:
            docs = documents(Path(args.bench), n)
            for w in [int(x) for x in args.workers.split(",")]:
                r = measure_batch(docs, ["--workers", str(w), "--chunk-size", str(args.chunk_size)])
                out(f"| 500-word documents | {n} | {w} | {r['run_s']:.1f} ({r['load_s']:.1f}) | {r['docs_per_s']:.1f} | "
                      f"{r['peak_rss_mb']:.0f} |")
    settings = [(int(a), float(b)) for a, b in (x.split(":") for x in args.triage.split(",") if x)]
    if settings and Path(args.bench).exists():
        out("\n| --triage N (first-stage cut) | detector | spun documents kept for full detection: "
              "moby / mythes / treasures / all | clean documents cleared |")
        out("|---|---|---|---|")
        for label, int8, fast in (("fp32", False, False), ("int8", True, False), ("fast int8", True, True)):
            for r in cascade_recall(Path(args.bench), settings, int8, fast):
                out(f"| {r['n']} (< {r['cut']}) | {label} | {r['moby']:.3f} / {r['mythes']:.3f} / "
                      f"{r['treasures']:.3f} / **{r['all']:.3f}** of {r['docs'][0]} | {r['cleared']:.3f} of {r['docs'][1]} |")
        n = counts[0] if counts else 200
        out(f"\n| repair batch (detect), {n} 500-word documents, 1 worker | documents/s after load | peak RSS MB |")
        out("|---|---|---|")
        for label, clean in (("devbench mix (60% spun sentences)", False), ("clean devbench sentences only", True)):
            docs = documents(Path(args.bench), n, clean_only=clean)
            for extra in ([], ["--int8"], ["--detector", "fast"], ["--detector", "fast", "--int8"],
                          *[["--triage", str(a), "--triage-score", str(b), "--int8"] for a, b in settings],
                          *[["--triage", str(a), "--triage-score", str(b), "--detector", "fast", "--int8"]
                            for a, b in settings[-1:]]):
                r = measure_batch(docs, ["--workers", "1", *extra])
                out(f"| {label}, {' '.join(extra) or 'defaults'} | {r['docs_per_s']:.1f} | {r['peak_rss_mb']:.0f} |")
    stream = [int(x) for x in args.stream_docs.split(",") if x]
    if stream:
        out("\n| batch machinery, stand-in detector | documents | seconds | peak RSS MB |")
        out("|---|---|---|---|")
        for n in stream:
            r = measure_stream(documents(Path(args.bench), n))
            out(f"| 500-word documents | {r['docs']} | {r['seconds']:.1f} | {r['peak_rss_mb']:.0f} |")
    if args.fix_docs:
        r = measure_batch(documents(Path(args.bench), args.fix_docs), ["--fix", "--workers", "1"])
        out(f"\n`repair batch --fix`, {args.fix_docs} 500-word documents, 1 worker: {r['run_s']:.1f} s "
              f"({r['load_s']:.1f} s model load), "
              f"{r['docs_per_s']:.2f} documents/s, peak RSS {r['peak_rss_mb']:.0f} MB")
    write_page(args.out, [*header(sys.argv[1:]), *lines])


def serve_page(text: str, seconds: float) -> list[str]:
    """The tables of :func:`serve_rows`, under their own generated header."""
    import datetime

    from repair import __version__
    from repair.backends.hf import machine

    rows, soaks = serve_rows(text, seconds)
    lines = ["# Speed and memory of `repair serve`", "",
             f"Generated by `make bench` (`python scripts/bench.py {' '.join(sys.argv[1:])}`); do not edit by hand. "
             f"{datetime.date.today()}, {machine()}, repair {__version__}, the "
             f"default models on the CPU. The server runs in its own process (`repair serve`); the clients post "
             f"the first {len(text.split())} words of the spun seed article (`seeds/002`, whole paragraphs) over HTTP "
             f"from threads of another process, each client one request after another. Requests queue onto the one "
             f"set of models, so with more clients latency grows and throughput stays.", "",
             "| endpoint | concurrent clients | requests | failed | median latency s | requests/s |", "|---|---|---|---|---|---|"]
    lines += [f"| POST /v1/{r['endpoint']} | {r['clients']} | {r['requests']} | {r['failed']} | {r['median_s']:.2f} | "
              f"{r['per_s']:.2f} |" for r in rows]
    lines += ["", "| sustained load | clients | seconds | requests | failed or lost | server RSS MB at start | "
              "peak, first half | peak, second half |", "|---|---|---|---|---|---|---|---|"]
    lines += [f"| POST /v1/{s['endpoint']} | {s['clients']} | {s['seconds']:.0f} | {s['requests']} | {s['failed']} | "
              f"{s['rss_start']:.0f} | {s['rss_first']:.0f} | {s['rss_second']:.0f} |" for s in soaks]
    for line in lines:
        print(line, flush=True)
    return lines


def write_page(path: str, lines: list[str]) -> None:
    """Write a generated page whole (``-``: printed only): a run cut short leaves the last complete file."""
    if path == "-":
        return
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(".tmp")
    tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")
    tmp.replace(target)


if __name__ == "__main__":
    main()
