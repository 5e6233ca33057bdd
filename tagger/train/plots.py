"""PNG plots of a run and of an evaluation (matplotlib's Agg backend: no display needed).

Each function takes plain data (history rows, per-class numbers, a matrix) and a path, so the
trainer, ``tagger eval`` and the sweep draw the same pictures from what they already hold.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def _finite(rows: Sequence[Mapping[str, Any]], key: str) -> tuple[list[float], list[float]]:
    xs, ys = [], []
    for row in rows:
        value = row.get(key)
        if value is not None and value != "" and not math.isnan(float(value)):
            xs.append(float(row["step"]))
            ys.append(float(value))
    return xs, ys


def plot_history(history: Sequence[Mapping[str, Any]], path: str | Path, title: str = "") -> Path:
    """Training and validation loss by step, with validation mAP on a second axis."""
    fig, ax = plt.subplots(figsize=(7, 4))
    for key, label in (("train_loss", "train loss"), ("train_presence", "train presence BCE"),
                       ("val_loss", "validation loss")):
        xs, ys = _finite(history, key)
        if xs:
            ax.plot(xs, ys, marker="o", markersize=3, label=label)
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    xs, ys = _finite(history, "val_mAP")
    if xs:
        ax2 = ax.twinx()
        ax2.plot(xs, ys, color="black", linestyle="--", marker="s", markersize=3,
                 label="validation mAP")
        ax2.set_ylabel("mAP")
        ax2.set_ylim(0, 1)
        ax2.legend(loc="upper right")
    ax.legend(loc="upper left")
    ax.set_title(title or "loss curves")
    fig.tight_layout()
    return _save(fig, path)


def plot_per_class(values: Mapping[str, float | None], path: str | Path, *,
                   metric: str = "AP", title: str = "") -> Path:
    """Horizontal bars of one figure per class (classes without data are shown empty)."""
    names = list(values)
    nums = [float("nan") if values[n] is None else float(values[n]) for n in names]  # type: ignore[arg-type]
    fig, ax = plt.subplots(figsize=(6, 0.35 * len(names) + 1.2))
    y = np.arange(len(names))
    ax.barh(y, np.nan_to_num(nums, nan=0.0), color="tab:blue")
    for yi, v in zip(y, nums):
        ax.text(0.01 if math.isnan(v) else v + 0.01, yi, "n/a" if math.isnan(v) else f"{v:.2f}",
                va="center", fontsize=8)
    ax.set_yticks(y, names)
    ax.invert_yaxis()
    ax.set_xlim(0, 1.1)
    ax.set_xlabel(metric)
    finite = [v for v in nums if not math.isnan(v)]
    mean = f" (mean {np.mean(finite):.3f})" if finite else ""
    ax.set_title((title or f"per-class {metric}") + mean)
    fig.tight_layout()
    return _save(fig, path)


def plot_confusion(matrix: Sequence[Sequence[int]], classes: Sequence[str], path: str | Path, *,
                   title: str = "") -> Path:
    """Row-normalised confusion matrix over the classes that occur as truth or prediction."""
    m = np.asarray(matrix, dtype=np.float64)
    used = np.flatnonzero((m.sum(axis=0) + m.sum(axis=1)) > 0)
    m = m[np.ix_(used, used)]
    names = [classes[i] for i in used]
    norm = m / np.maximum(m.sum(axis=1, keepdims=True), 1.0)
    size = 1.0 + 0.5 * len(names)
    fig, ax = plt.subplots(figsize=(size + 1.5, size))
    im = ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
    for i in range(len(names)):
        for j in range(len(names)):
            if m[i, j]:
                ax.text(j, i, str(int(m[i, j])), ha="center", va="center", fontsize=8,
                        color="white" if norm[i, j] > 0.5 else "black")
    ax.set_xticks(range(len(names)), names, rotation=45, ha="right")
    ax.set_yticks(range(len(names)), names)
    ax.set_xlabel("predicted (top-1)")
    ax.set_ylabel("true")
    ax.set_title(title or "confusion matrix")
    fig.colorbar(im, ax=ax, fraction=0.046)
    fig.tight_layout()
    return _save(fig, path)


def plot_sweep(rows: Sequence[Mapping[str, Any]], path: str | Path, *, metric: str = "mAP") -> Path:
    """Cross-validated score against learning rate and weight decay; marker size = batch size."""
    fig, axes = plt.subplots(1, 2, figsize=(10, 4), sharey=True)
    score = np.array([float(r[f"{metric}_mean"]) for r in rows])
    err = np.array([float(r.get(f"{metric}_std") or 0.0) for r in rows])
    sizes = np.array([float(r["batch_size"]) for r in rows])
    for ax, key in zip(axes, ("lr", "weight_decay")):
        x = np.array([float(r[key]) for r in rows])
        ax.errorbar(x, score, yerr=err, fmt="none", ecolor="grey", alpha=0.5)
        sc = ax.scatter(x, score, s=20 + 3 * sizes, c=np.log2(sizes), cmap="viridis")
        ax.set_xscale("log")
        ax.set_xlabel(key)
    axes[0].set_ylabel(f"{metric} (mean over folds)")
    fig.colorbar(sc, ax=axes, label="log2 batch size")
    fig.suptitle("random search, k-fold cross-validation")
    return _save(fig, path)


def _save(fig: Any, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
