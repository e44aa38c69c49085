"""``python -m repair.cli``: the command line."""
from repair.cli import app

app()
