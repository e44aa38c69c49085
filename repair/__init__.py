"""repair: find and undo spun content (thesaurus-substituted text).

>>> from repair import Repairer
>>> r = Repairer()                    # doctest: +SKIP
>>> result = r.fix(text)              # doctest: +SKIP
>>> from repair.render import render
>>> html = render(result, "html")     # doctest: +SKIP

The records (``repair.doc``) and the metrics import nothing heavy; ``Repairer`` loads its stack
(torch, NLTK) when first asked for.
"""
from repair._version import __version__
from repair.doc import Edit, Report, Result, Sentence, Signature, Span, apply_edits
from repair.errors import InputError, ModelUnavailable, RepairError

__all__ = ["Repairer", "Report", "Result", "Sentence", "Span", "Edit", "Signature", "InputError",
           "ModelUnavailable", "RepairError", "apply_edits", "__version__"]


def __getattr__(name: str):
    if name == "Repairer":
        from repair.pipeline import Repairer

        return Repairer
    raise AttributeError(f"module 'repair' has no attribute {name!r}")
