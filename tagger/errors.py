"""``TaggerError``: the one base of every exception tagger raises on purpose.

Each error keeps the built-in base callers already catch it as (``LookupError``,
``ValueError``, ``OSError``...) and adds this one, so a command, a script or the CLI can catch
everything tagger means to report with a single ``except TaggerError`` and print its one-line
message, while a bug (a bare ``TypeError``, ``KeyError``...) still surfaces as a traceback.
``tests/test_layers.py`` checks that every exception class defined in ``tagger/`` derives from it.
"""

from __future__ import annotations


class TaggerError(Exception):
    """An error tagger reports to the user: ``str(exc)`` is the one-line message."""
