"""Where shipped models live and where converted base weights are cached."""
from __future__ import annotations

import os
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parents[1]  # the installed repair package


def models_dir() -> Path:
    """``models/`` shipped with the package (``REPAIR_MODELS_DIR`` overrides)."""
    env = os.environ.get("REPAIR_MODELS_DIR")
    if env:
        return Path(env)
    for candidate in (PACKAGE_DIR / "models", PACKAGE_DIR.parent / "models"):
        if candidate.is_dir():
            return candidate
    return PACKAGE_DIR.parent / "models"


def model_path(name: str) -> Path:
    path = models_dir() / name
    if not path.exists():
        raise FileNotFoundError(f"shipped model file missing: {path} (is the repair package installed completely?)")
    return path


def cache_dir() -> Path:
    """Per-user cache for converted weights (``REPAIR_CACHE_DIR`` overrides; default: the platform cache dir)."""
    env = os.environ.get("REPAIR_CACHE_DIR")
    if env:
        path = Path(env)
    else:
        from platformdirs import user_cache_dir

        path = Path(user_cache_dir("repair"))
    path.mkdir(parents=True, exist_ok=True)
    return path
