"""Everything a training run needs to know, in one flat dataclass that round-trips to a file.

Flat (not nested sections) so a config file, the command line and a sweep all override the same
names, and the saved ``NAME.train.json`` next to a model reproduces it with
``tagger train --config NAME.train.json``.
"""

from __future__ import annotations

import json
import tomllib
from dataclasses import asdict, dataclass, field, fields, replace
from importlib.resources import files
from pathlib import Path
from typing import Any

from tagger.config import shared_dir
from tagger.errors import TaggerError
from tagger.taxonomy import CLASSES

# The AudioSet-pretrained EfficientAT mn04 (see ../shared/pretrained/README.md); never downloaded.
DEFAULT_PRETRAINED = str(shared_dir() / "pretrained" / "mn04_as_mAP_432.pt")
INITS = ("audioset", "scratch", "model")
HEADS = ("audioset_rows", "linear")
SCHEDULES = ("cosine", "onecycle", "constant")


class ConfigError(TaggerError, ValueError):
    """A config file or option that cannot be used; the message says which key and why."""


@dataclass
class TrainConfig:
    """One training run. Units are in the names (``_s`` seconds, plain ints are samples)."""

    # --- the model ---
    name: str = "tagger-ft"
    version: str = "1"
    classes: list[str] = field(default_factory=lambda: list(CLASSES))
    init: str = "audioset"  # audioset (copy mn04 + its AudioSet rows) | scratch | model (--from)
    from_model: str | None = None  # name or path of an installed model to fine-tune
    # With --from: re-time that model's frontend to this STFT hop (samples), e.g. 640 at 32 kHz
    # (20 ms) halves the frames, so the network and the STFT cost half per second of audio.
    # Fine-tuning (with the original model as teacher) teaches the CNN the new time scale.
    from_hop_length: int | None = None
    pretrained: str = DEFAULT_PRETRAINED
    head: str = "audioset_rows"  # audioset_rows (mapped AudioSet rows + max) | linear (C rows)
    combine: str = "max"  # how an audioset_rows head merges a class's rows: max | noisy_or
    width_mult: float = 0.4
    role_head: bool = True
    sample_rate: int = 32000
    window_s: float = 5.0  # as the shipped tagger-as: 5-s windows, no overlap (scan cost)
    hop_s: float = 5.0
    n_mels: int = 128
    n_fft: int = 1024
    win_length: int = 800
    hop_length: int = 320
    # --- optimisation ---
    steps: int = 2000
    batch_size: int = 32
    lr: float = 1e-3  # heads; the backbone gets lr * backbone_lr_mult
    backbone_lr_mult: float = 0.1
    weight_decay: float = 1e-2
    schedule: str = "cosine"
    warmup_steps: int = 100
    grad_clip: float = 5.0
    foreground_weight: float = 0.5
    distill_weight: float = 0.5  # 0 = no teacher
    teacher: str = "audioset"  # audioset (frozen mn04 + class map) | a model name or path
    spec_augment: bool = True
    freeze_bn: bool = False
    bn_momentum: float | None = None  # None: 0.01 (mn04's) when pretrained, 0.1 from scratch
    # --- runtime ---
    device: str = "auto"
    amp: bool = True  # bf16 autocast on CUDA; CPU always runs fp32
    seed: int = 0
    workers: int = 2
    threads: int = 0  # torch CPU threads for the main process; 0 = torch's default
    eval_every: int = 200
    eval_at_start: bool = True  # the step-0 baseline (for audioset init: the mapped teacher)
    checkpoint_every: int = 200
    log_every: int = 10
    eval_batch_size: int = 32
    # --- data ---
    data: list[str] = field(default_factory=list)
    eval_data: list[str] = field(default_factory=list)
    val_fraction: float = 0.2
    labels: bool = False  # also train on the human labels of ``tagger label`` (--labels)
    labels_db: str | None = None  # their store; None = the default database (--db)
    labels_weight: float = 0.25  # their share of the draws: enough to steer, not to forget

    @property
    def window(self) -> int:
        """Training clip length in samples."""
        return int(round(self.window_s * self.sample_rate))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        path.write_text(json.dumps(self.to_dict(), indent=2) + "\n", encoding="utf-8")
        return path

    def updated(self, **overrides: Any) -> "TrainConfig":
        """A copy with ``overrides`` applied (``None`` values are ignored) and checked."""
        known = {f.name for f in fields(self)}
        unknown = sorted(set(overrides) - known)
        if unknown:
            raise ConfigError(f"unknown config key(s): {', '.join(unknown)}; "
                              f"valid keys: {', '.join(sorted(known))}")
        new = replace(self, **{k: v for k, v in overrides.items() if v is not None})
        new.validate()
        return new

    def validate(self) -> None:
        """Reject values that would fail late (after minutes of data loading) with a clear reason."""
        checks = [
            (self.init in INITS, f"init must be one of {', '.join(INITS)}, not {self.init!r}"),
            (self.init != "model" or bool(self.from_model), "init 'model' needs from_model"),
            (self.from_hop_length is None or (self.init == "model" and self.from_hop_length > 0),
             "from_hop_length re-times a --from model: needs init 'model' and a positive hop"),
            (self.head in HEADS, f"head must be one of {', '.join(HEADS)}, not {self.head!r}"),
            (self.combine in ("max", "noisy_or"), "combine must be max or noisy_or"),
            (self.schedule in SCHEDULES, f"schedule must be one of {', '.join(SCHEDULES)}"),
            (self.steps > 0, "steps must be positive"),
            (self.batch_size > 0, "batch_size must be positive"),
            (self.lr > 0, "lr must be positive"),
            (self.weight_decay >= 0, "weight_decay must not be negative"),
            (0 < self.hop_s <= self.window_s, "need 0 < hop_s <= window_s"),
            (self.sample_rate > 0 and self.window > self.n_fft, "window_s too short for n_fft"),
            (self.win_length <= self.n_fft, "win_length must not exceed n_fft"),
            (0.0 <= self.val_fraction < 1.0, "val_fraction must be in [0, 1)"),
            (self.eval_every > 0 and self.checkpoint_every > 0 and self.log_every > 0,
             "eval_every, checkpoint_every and log_every must be positive"),
            (len(self.classes) > 0 and len(set(self.classes)) == len(self.classes),
             "classes must be a non-empty list without repeats"),
            (self.workers >= 0, "workers must not be negative"),
            (0.0 < self.labels_weight <= 1.0, "labels_weight must be in (0, 1]"),
        ]
        for ok, message in checks:
            if not ok:
                raise ConfigError(message)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "TrainConfig":
        return cls().updated(**data)


def presets_dir() -> Path:
    """The training presets shipped with the package (``tagger/train/presets/*.toml``)."""
    return Path(str(files("tagger.train").joinpath("presets")))


def _preset_or_path(path: Path) -> Path:
    """``path`` itself, or the shipped preset a bare name (``mn04-finetune-cpu``) names."""
    if path.exists() or path.parent != Path("."):
        return path
    preset = presets_dir() / (path.name if path.suffix else f"{path.name}.toml")
    return preset if preset.is_file() else path


def load_config(path: str | Path) -> TrainConfig:
    """Read a ``.toml`` or ``.json`` config; keys are ``TrainConfig`` fields (flat or in tables).

    A bare name that is no file here is looked up among the shipped presets. TOML tables
    (``[model]``, ``[optim]``...) are flattened, so a config can be grouped for readability
    without the code caring about the grouping.
    """
    path = _preset_or_path(Path(path))
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read config {path}: {exc.strerror or exc}") from exc
    try:
        data = tomllib.loads(text) if path.suffix.lower() == ".toml" else json.loads(text)
    except (tomllib.TOMLDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(f"config {path} is not valid {path.suffix.lstrip('.') or 'JSON'}: {exc}"
                          ) from exc
    if not isinstance(data, dict):
        raise ConfigError(f"config {path} must hold a table of keys")
    flat: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, dict):
            flat.update(value)
        else:
            flat[key] = value
    return TrainConfig.from_dict(flat)
