"""The model card: everything needed to run a model and to judge it, kept beside its weights.

A model in ``models/`` is ``NAME.pt`` (a ``state_dict``) plus ``NAME.json`` (this card). The
scanner reads sample rate, window and hop and thresholds from here and nowhere else.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class FrontendConfig:
    """Log-mel frontend parameters (sample counts at ``sample_rate``)."""

    n_mels: int = 128
    n_fft: int = 1024
    win_length: int = 800
    hop_length: int = 320
    f_min: float = 0.0
    f_max: float | None = None


@dataclass
class ModelCard:
    """Metadata for one model; serialised as JSON next to the weights."""

    name: str
    version: str
    classes: list[str]
    sample_rate: int
    window_s: float
    hop_s: float
    thresholds: dict[str, float]
    architecture: dict[str, Any]
    frontend: FrontendConfig = field(default_factory=FrontendConfig)
    description: str = ""
    role_method: str = "head"
    training_data: list[dict[str, Any]] = field(default_factory=list)
    reproduce: str = ""
    validation: dict[str, Any] = field(default_factory=dict)
    # How window scores become a track's answer: track_thresholds, min_evidence_s,
    # smooth_chunks (tagger.pipeline.segments.SegmenterConfig.from_card); empty = window
    # thresholds only.
    decision: dict[str, Any] = field(default_factory=dict)
    weights: str = ""
    licence: str = ""

    @property
    def id(self) -> str:
        """``name-version``: what the store records as the model a track was scanned with."""
        return f"{self.name}-{self.version}"

    def threshold(self, cls: str) -> float:
        return float(self.thresholds.get(cls, 0.5))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "ModelCard":
        data = dict(data)
        frontend = FrontendConfig(**data.pop("frontend", {}))
        known = {f for f in cls.__dataclass_fields__}
        unknown = set(data) - known
        if unknown:
            # Newer cards may carry extra fields; keep loading, ignore what we do not know.
            data = {k: v for k, v in data.items() if k in known}
        return cls(frontend=frontend, **data)

    @classmethod
    def load(cls, path: str | Path) -> "ModelCard":
        with open(path, encoding="utf-8") as fh:
            return cls.from_dict(json.load(fh))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=2) + "\n", encoding="utf-8")
