"""Where things live by default: the store, the shipped models, and the data beside a checkout.

Nothing here builds a path from the source tree except ``checkout_root``, which says whether
tagger runs from a source checkout at all (``pip install -e .`` or a ``.pth``) and is ``None``
in an installed wheel. The models are package data (``tagger/models/``), found through
``importlib.resources`` the same way in both.
"""

from __future__ import annotations

import os
from importlib.resources import files
from pathlib import Path

import platformdirs

SHARED_ENV = "TAGGER_SHARED_DIR"


def default_db_path() -> Path:
    env = os.environ.get("TAGGER_DB")
    if env:
        return Path(env).expanduser()
    return Path(platformdirs.user_data_dir("tagger", appauthor=False)) / "tagger.db"


def resolve_db_path(db: str | os.PathLike[str] | None) -> Path:
    return Path(db).expanduser() if db else default_db_path()


def package_models_dir() -> Path:
    """The models shipped inside the package (cards, weights, ``DEFAULT``): package data.

    Installs unpack wheels onto the filesystem, so this is a real folder that ``torch.load``
    can read; a zipped install is not supported.
    """
    return Path(str(files("tagger").joinpath("models")))


def checkout_root() -> Path | None:
    """The source checkout tagger is imported from, or ``None`` when it is installed."""
    root = Path(__file__).resolve().parent.parent
    return root if (root / "pyproject.toml").is_file() else None


def shared_dir() -> Path:
    """Large data that is never shipped or downloaded (pretrained networks, real recordings).

    ``$TAGGER_SHARED_DIR``, else the ``shared/`` folder beside a source checkout (where the
    project keeps it), else ``shared/`` in the user data folder of an installed tagger.
    """
    env = os.environ.get(SHARED_ENV)
    if env:
        return Path(env).expanduser()
    root = checkout_root()
    if root is not None:
        return root.parent / "shared"
    return Path(platformdirs.user_data_dir("tagger", appauthor=False)) / "shared"


def examples_dir() -> Path:
    """The example library (``examples/library`` of a checkout; not shipped in the wheel)."""
    return (checkout_root() or Path.cwd()) / "examples" / "library"
