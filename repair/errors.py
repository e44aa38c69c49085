"""The errors `repair` raises on purpose. Each message is one line a user can act on; the CLI prints
it and exits non-zero, never with a traceback."""
from __future__ import annotations


class RepairError(Exception):
    """Anything `repair` refuses to do, and says why."""


class InputError(RepairError, ValueError):
    """The input cannot be processed (empty, too large, not text)."""


class TooLarge(InputError):
    """The input is over a size limit (the server answers 413)."""


class ModelUnavailable(RepairError, RuntimeError):
    """A base model package or a shipped model file is missing; the message says how to fix it."""


class BatchError(RepairError, ValueError):
    """A batch job cannot start (bad input path, unsupported format, conflicting partial output)."""
