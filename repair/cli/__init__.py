"""The ``repair`` command line: ``app`` with its commands (``documents``: check, fix, diff; ``spin``;
``batch``; ``serve``)."""
from repair.cli.app import app
from repair.cli import documents, spin, batch, serve  # noqa: F401,E402,I001 - each registers its commands on app, in help order

__all__ = ["app"]

