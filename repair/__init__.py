"""repair: find and undo spun content (thesaurus-substituted text).

>>> from repair import Repairer
>>> r = Repairer()                    # doctest: +SKIP
>>> result = r.fix(text)              # doctest: +SKIP
"""
__version__ = "0.1.0"

from .doc import Edit, Report, Result, Sentence, Signature, Span, apply_edits  # noqa: E402
from .pipeline import InputError, Repairer  # noqa: E402

__all__ = ["Repairer", "Report", "Result", "Sentence", "Span", "Edit", "Signature", "InputError",
           "apply_edits", "__version__"]
