"""Where things live by default: the store path (``--db`` > ``TAGGER_DB`` > user data dir)."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs


def default_db_path() -> Path:
    env = os.environ.get("TAGGER_DB")
    if env:
        return Path(env).expanduser()
    return Path(platformdirs.user_data_dir("tagger", appauthor=False)) / "tagger.db"


def resolve_db_path(db: str | os.PathLike[str] | None) -> Path:
    return Path(db).expanduser() if db else default_db_path()
