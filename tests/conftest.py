from __future__ import annotations

import gzip
import importlib
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SEEDS = ROOT / "seeds"
SPUN_SEED = "002_a8a13b1a40a467f8"  # the spun one of the five real seed articles (seeds/README.md)
SHARED = ROOT.parent / "shared"


@pytest.fixture(scope="session")
def repairer():
    """The real default pipeline (SmolLM2 converted once into the user cache)."""
    from repair import Repairer

    return Repairer()


@pytest.fixture(scope="session")
def seed_results(repairer):
    return {p.stem: repairer.fix(p.read_text(encoding="utf-8")) for p in sorted(SEEDS.glob("*.txt"))}


def needs_shared(*parts: str) -> Path:
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"needs {path} (the project's shared data, present in CI but not on a user's machine)")
    return path


def write_shard(path: Path, rows) -> None:
    """A training shard in the format of ``scripts/make_data.py`` (gzipped JSON lines)."""
    with gzip.open(path, "wt") as f:
        for r in rows:
            f.write(json.dumps(r) + "\n")


def load_script(name: str):
    """The module behind ``scripts/NAME.py`` (``repair.train.NAME``)."""
    return importlib.import_module(f"repair.train.{name}")
