"""User text (file names above all) made safe to print on a terminal.

A file name may hold a newline, which would split one entry over two lines, or an escape
sequence, which a terminal would obey (recolour, retitle, move the cursor). Human output shows
such characters escaped, the way Python writes them: ``\\n``, ``\\t``, ``\\x1b``.
"""

from __future__ import annotations

import re

_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
# C0 controls, DEL and C1 controls (U+0080-U+009F, which some terminals also obey).
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")
_CONTROL_BYTES = re.compile(b"[\x00-\x1f\x7f]")


def _escape(char: str) -> str:
    return _NAMED.get(char) or f"\\x{ord(char):02x}"


def printable(text: str) -> str:
    """``text`` with control characters escaped (``"a\\nb"`` -> ``"a\\\\nb"``)."""
    return _CONTROL.sub(lambda m: _escape(m.group()), text)


def printable_bytes(raw: bytes) -> bytes:
    """Like :func:`printable` for raw bytes (other bytes, UTF-8 or not, are kept as they are)."""
    return _CONTROL_BYTES.sub(lambda m: _escape(m.group().decode("latin-1")).encode(), raw)
