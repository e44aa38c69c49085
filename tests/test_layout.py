"""The package's shape: light modules stay light, imports point one way, components are one registration."""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "repair"


def test_records_metrics_and_segmenter_import_no_torch():
    code = "import sys, repair.metrics, repair.doc, repair.text.segment; print(sorted({'torch', 'transformers'} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout


def _module(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _top_level_imports(path: Path, modules: set[str]) -> set[str]:
    """The repair modules ``path`` imports when it is imported (not those imported inside functions)."""
    out = set()
    for node in ast.parse(path.read_text()).body:
        names = []
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        out |= {n for n in names if n in modules}
    return out


def test_no_import_cycle():
    """Module-level imports between repair's modules form no cycle (a package's own ``__init__`` may import
    its submodules; a submodule importing its package's ``__init__`` would be the cycle)."""
    files = {_module(p): p for p in PACKAGE.rglob("*.py")}
    graph = {m: _top_level_imports(p, set(files)) - {m} for m, p in files.items()}
    state: dict[str, int] = {}

    def visit(m: str, path: list[str]) -> None:
        if state.get(m) == 2:
            return
        assert state.get(m) != 1, " -> ".join(path + [m])
        state[m] = 1
        for n in sorted(graph[m]):
            visit(n, path + [m])
        state[m] = 2

    for m in sorted(graph):
        visit(m, [])


def test_a_toy_detector_and_restorer_are_one_registration_each():
    from repair import Repairer, registry
    from repair.detect import Detector, SentenceEvidence
    from repair.doc import Span
    from repair.restore import LocalEdit, Restorer

    class Toy(Detector):
        name, threshold = "toy-detector", 0.5

        def detect(self, sentences):
            return [SentenceEvidence(0.9, [Span(s.index("got here"), s.index("got here") + 8, 0.9, "got here")], [])
                    if "got here" in s else SentenceEvidence(0.1, [], []) for s in sentences]

    class ToyRestorer(Restorer):
        name, min_confidence = "toy-restorer", 0.5

        def restore(self, sentence, spans):
            return [LocalEdit(p.start, p.end, p.text, "came", 0.8) for p in spans]

    registry.detectors.register("toy", help="flags 'got here'")(lambda repairer: Toy())
    registry.restorers.register("toy", help="writes 'came'")(lambda repairer: ToyRestorer())
    try:
        assert "toy" in registry.detectors.names() and "toy" in registry.restorers.names()
        r = Repairer(detector="toy", restorer="toy")
        res = r.fix("Blinken got here to Astana. All is calm.")
        assert res.text == "Blinken came to Astana. All is calm."
        assert [s.flagged for s in res.sentences] == [True, False]
        assert "detector:toy-detector" in str(res.signature) and "restorer:toy-restorer" in str(res.signature)
    finally:
        registry.detectors.entries.pop("toy")
        registry.restorers.entries.pop("toy")


def test_a_callers_own_components_need_only_name_and_their_method():
    from repair import Repairer
    from repair.detect import SentenceEvidence
    from repair.restore import LocalEdit

    class Plain:
        name = "plain"

        def detect(self, sentences):
            return [SentenceEvidence(0.9, [], []) for _ in sentences]

    class PlainRestorer:
        name = "plain-restorer"

        def restore(self, sentence, spans):
            return [LocalEdit(0, 5, sentence[:5], "Hello", 0.99)]

    r = Repairer(detector=Plain(), restorer=PlainRestorer())
    assert r.threshold == 0.5 and r.edit_confidence == 0.85  # repair.config's defaults: they declare none
    assert r.fix("Howdy there.").text == "Hello there."


def test_the_cli_offers_every_registered_component():
    from repair import registry
    from repair.cli.app import DetectorChoice, RestorerChoice

    assert [c.value for c in DetectorChoice] == registry.detectors.names()
    assert [c.value for c in RestorerChoice] == registry.restorers.names()


def test_an_installed_package_adds_a_component_through_its_entry_point(monkeypatch):
    from importlib.metadata import EntryPoint

    import repair.registry as registry

    eps = [EntryPoint("plugged", "repair.registry:as_detector", "repair.detectors")]
    monkeypatch.setattr(registry, "entry_points", lambda group: eps if group == "repair.detectors" else [])
    monkeypatch.setattr(registry.detectors, "entries", dict(registry.detectors.entries))
    monkeypatch.setattr(registry.detectors, "_loaded", False)  # as on first use
    assert "plugged" in registry.detectors.names() and "default" in registry.detectors.names()
    assert registry.detectors.get("plugged").factory is registry.as_detector


def test_fix_gives_the_restorer_bounded_chunks_and_every_flagged_sentence(monkeypatch):
    """Hardening: the restorer gets ``config.RESTORE_CHUNK`` sentences at a time (its candidates are
    held for one chunk only), every flagged sentence of every text once, and the edits land where
    they belong."""
    from repair import Repairer, config
    from repair.detect import SentenceEvidence
    from repair.doc import Span
    from repair.restore import LocalEdit, Restorer

    class Toy:
        name, threshold = "toy", 0.5

        def detect(self, sentences):
            return [SentenceEvidence(0.9, [Span(s.index("got here"), s.index("got here") + 8, 0.9, "got here")], [])
                    if "got here" in s else SentenceEvidence(0.1, [], []) for s in sentences]

    calls = []

    class Recorder(Restorer):
        name, min_confidence = "recorder", 0.5

        def restore_many(self, sentences, spans, scores=None, documents=None):
            calls.append(list(sentences))
            return super().restore_many(sentences, spans, scores, documents)

        def restore(self, sentence, spans):
            return [LocalEdit(p.start, p.end, p.text, "came", 0.8) for p in spans]

    import repair.pipeline

    monkeypatch.setattr(config, "RESTORE_CHUNK", 3)
    released = []  # the allocator's free memory is handed back after every chunk of a long run
    monkeypatch.setattr(repair.pipeline, "release", lambda: released.append(len(calls)))
    texts = [" ".join(f"Envoy {i}.{k} got here today." if k % 2 else f"All is calm {i}.{k}." for k in range(5))
             for i in range(3)]
    results = Repairer(detector=Toy(), restorer=Recorder()).fix_many(texts)
    assert [len(c) for c in calls] == [3, 3]  # two flagged sentences in each of three texts
    assert released == [1, 2]
    assert [r.text for r in results] == [t.replace("got here", "came") for t in texts]
