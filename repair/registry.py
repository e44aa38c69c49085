"""Components by name: a detector or a restorer is registered once, and the pipeline, the CLI's
choices and the batch job's fingerprint all read the registry (cf. spaCy's factories).

    @registry.detectors.register("mine", help="my detector")
    def make_mine(repairer):              # the Repairer asking: device, lexicon, shared models
        return MyDetector(device=repairer.device)

    Repairer(detector="mine")             # and `repair batch --detector mine`

The built-in components register where they are defined (``repair.detect``, ``repair.restore``);
another package adds its own through the entry-point group ``repair.detectors`` or ``repair.restorers``
(``mine = "my_package.module:make_mine"``), found on first use, so the CLI offers them too. Nothing
heavy is imported until a factory runs."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import import_module
from importlib.metadata import entry_points


@dataclass(frozen=True)
class Entry:
    name: str
    factory: Callable  # (repairer) -> component
    help: str = ""


@dataclass
class Registry:
    kind: str  # "detector" or "restorer"
    builtins: str  # the module whose import registers the built-in components
    entries: dict[str, Entry] = field(default_factory=dict)
    _loaded: bool = False

    def register(self, name: str, *, help: str = ""):
        """Decorator: register ``factory(repairer) -> component`` under ``name`` (a later one replaces it)."""
        def add(factory):
            self.entries[name] = Entry(name, factory, help)
            return factory
        return add

    def _all(self) -> dict[str, Entry]:
        if not self._loaded:
            self._loaded = True
            import_module(self.builtins)
            for ep in entry_points(group=f"repair.{self.kind}s"):
                if ep.name not in self.entries:
                    self.entries[ep.name] = Entry(ep.name, ep.load(), f"from {ep.value}")
        return self.entries

    def names(self) -> list[str]:
        return list(self._all())

    def describe(self) -> str:
        """One line per choice, for help texts."""
        return "; ".join(f"{e.name}: {e.help}" if e.help else e.name for e in self._all().values())

    def get(self, name: str) -> Entry:
        entries = self._all()
        if name not in entries:
            raise ValueError(f"unknown {self.kind} {name!r} ({', '.join(entries)})")
        return entries[name]

    def make(self, name: str, repairer):
        return self.get(name).factory(repairer)


detectors = Registry("detector", "repair.detect")
restorers = Registry("restorer", "repair.restore")


class _PlainDetector:
    """A caller's detector with only ``name`` and ``detect``: its abilities read as absent."""

    def __init__(self, obj):
        self._obj, self.name = obj, obj.name
        self.threshold = getattr(obj, "threshold", None)
        self.context = getattr(obj, "context", None)

    def detect(self, sentences):
        return self._obj.detect(sentences)


class _PlainRestorer:
    """A caller's restorer with only ``name`` and ``restore``: restored one sentence at a time."""

    def __init__(self, obj):
        self._obj, self.name = obj, obj.name
        self.min_confidence = getattr(obj, "min_confidence", None)
        self.restore_threshold = getattr(obj, "restore_threshold", None)
        self.joint_share = getattr(obj, "joint_share", None)

    def restore(self, sentence, spans):
        return self._obj.restore(sentence, spans)

    def restore_many(self, sentences, spans, scores=None, documents=None):
        many = getattr(self._obj, "restore_many", None)
        if many is not None:
            return many(sentences, spans, scores, documents)
        return [self._obj.restore(s, sp) for s, sp in zip(sentences, spans)]


def as_detector(obj):
    """``obj`` as the pipeline reads a detector (see :class:`repair.detect.Detector`)."""
    from repair.detect import Detector

    return obj if isinstance(obj, Detector) else _PlainDetector(obj)


def as_restorer(obj):
    """``obj`` as the pipeline reads a restorer (see :class:`repair.restore.Restorer`)."""
    from repair.restore import Restorer

    return obj if isinstance(obj, Restorer) else _PlainRestorer(obj)
