"""Where things live by default: the store, the shipped models, and the data beside a checkout.

Nothing here builds a path from the source tree except ``checkout_root``, which says whether
tagger runs from a source checkout at all (``pip install -e .`` or a ``.pth``) and is ``None``
in an installed wheel. The models are package data (``tagger.models``), found through
``importlib.resources``.
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
    """The shipped models (cards, weights, ``DEFAULT``): the package data ``tagger.models``.

    ``setup.py`` maps the checkout's top-level ``models/`` to ``tagger.models``, in the wheel and
    in an editable install. A checkout that is only on ``sys.path`` (a ``.pth`` or
    ``PYTHONPATH``, no install) has no such mapping: there the same folder is found beside the
    package. Wheels install unzipped, so this is a real folder ``torch.load`` can read.
    """
    try:
        return Path(str(files("tagger.models")))
    except ModuleNotFoundError:
        root = checkout_root()
        if root is None:
            raise
        return root / "models"


def checkout_root() -> Path | None:
    """The source checkout tagger is imported from, or ``None`` when it is installed."""
    root = Path(__file__).resolve().parent.parent
    return root if (root / "pyproject.toml").is_file() else None


def user_models_dir() -> Path:
    """Models the user trained (``tagger train --out NAME`` installs there): a folder of theirs.

    Not the package's own folder: in a wheel install that is site-packages, which an upgrade or
    uninstall deletes and a system install cannot write.
    """
    return Path(platformdirs.user_data_dir("tagger", appauthor=False)) / "models"


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
