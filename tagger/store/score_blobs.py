"""The ``chunk_scores`` blobs: per-window probabilities as float16 bytes, ``[windows, classes]``.

Encoded and decoded here only, so the store's writer, ``Store.chunk_scores`` and the labeling
queue agree on the layout (and on what a blob that does not fit means).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

_ITEM_BYTES = 2  # float16


def encode_scores(array: np.ndarray | None) -> bytes | None:
    """``[windows, classes]`` probabilities -> the stored bytes (None stays None)."""
    import numpy as np

    return None if array is None else np.asarray(array, dtype=np.float16).tobytes()


def decode_scores(blob: bytes | None, n_classes: int) -> np.ndarray | None:
    """Stored bytes -> float32 ``[windows, classes]``; None for no blob and for one that does not
    fit ``n_classes`` (a damaged row). An empty blob is zero windows."""
    import numpy as np

    if blob is None or n_classes <= 0 or len(blob) % (_ITEM_BYTES * n_classes):
        return None
    values = np.frombuffer(blob, dtype=np.float16)
    return values.astype(np.float32).reshape(-1, n_classes)
