"""Build the network to train and keep AudioSet's knowledge in it.

The measured lesson (../shared/MODEL-NOTES.md) is that mn04's AudioSet outputs, mapped to our
classes, beat a classifier trained afresh on our data. So the default head is *those outputs*:

- ``audioset_rows``: the backbone's last layer keeps only the AudioSet rows our classes map to
  (40 of 527: Saxophone, Singing, Choir, Drum kit, ...), each copied from mn04, and a class's
  logit is the max (or noisy-or) of its rows. At step 0 the model *is* the mapped teacher, to
  the last bit; fine-tuning moves rows, never starts from nothing. In the card this is an
  ``audioset_map`` head over a compact output layer, so ``build_network`` needs no new code.
- ``linear``: one row per class, initialised from the mean of the class's AudioSet rows when
  the widths match (else random): the form a smaller student distilled later will use.

The teacher the student is pulled towards is :mod:`tagger.train.teacher`; the losses are
:mod:`tagger.train.losses`.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import torch
from torch import Tensor

from tagger.model.card import FrontendConfig, ModelCard
from tagger.model.frontend import LogMel
from tagger.model.network import AUDIOSET_MAP, TaggerNet, build_network
from tagger.train.config import ConfigError, TrainConfig

MN04_WIDTH = 0.4  # the AudioSet checkpoint (mn04) the student and the teacher start from
LAST_LAYER = "classifier.5"


def audioset_rows(classes: list[str]) -> list[tuple[str, int, str]]:
    """(class, AudioSet index, AudioSet name) for every mapped row, in output order."""
    missing = [c for c in classes if not AUDIOSET_MAP.get(c)]
    if missing:
        raise ConfigError(f"no AudioSet classes mapped for {', '.join(missing)}: "
                          "use head = 'linear' and init = 'scratch' for these classes")
    return [(c, idx, name) for c in classes for idx, name in AUDIOSET_MAP[c].items()]


def architecture(config: TrainConfig) -> dict[str, Any]:
    """The card's ``architecture`` for a config (what ``build_network`` reads back)."""
    arch: dict[str, Any] = {"type": "mobilenet_v3_audio", "width_mult": config.width_mult,
                            "role_head": config.role_head}
    if config.head == "audioset_rows":
        rows = audioset_rows(config.classes)
        compact: dict[str, dict[str, str]] = {c: {} for c in config.classes}
        for out, (cls, _idx, name) in enumerate(rows):
            compact[cls][str(out)] = name
        arch["num_outputs"] = len(rows)
        arch["head"] = {"type": "audioset_map", "combine": config.combine, "map": compact,
                        # Provenance only: output i was initialised from AudioSet row audioset_rows[i].
                        "audioset_rows": [idx for _c, idx, _n in rows]}
    else:
        arch["num_outputs"] = len(config.classes)
        arch["head"] = {"type": "direct"}
    return arch


def card_for(config: TrainConfig) -> ModelCard:
    """An (uncalibrated) card for the network a config describes."""
    return ModelCard(
        name=config.name, version=config.version, classes=list(config.classes),
        sample_rate=config.sample_rate, window_s=config.window_s, hop_s=config.hop_s,
        thresholds={c: 0.5 for c in config.classes}, architecture=architecture(config),
        frontend=FrontendConfig(n_mels=config.n_mels, n_fft=config.n_fft,
                                win_length=config.win_length, hop_length=config.hop_length),
        role_method="head" if config.role_head else "none")


def load_pretrained(path: str) -> dict[str, Tensor]:
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError as exc:
        raise ConfigError(f"pretrained weights not found: {path} (set pretrained = PATH, "
                          "or init = 'scratch')") from exc


def init_from_audioset(net: TaggerNet, config: TrainConfig, state: dict[str, Tensor]) -> None:
    """Copy mn04 into ``net.backbone`` and seed its last layer from the mapped AudioSet rows."""
    if config.width_mult != MN04_WIDTH:
        raise ConfigError(f"init 'audioset' needs width_mult {MN04_WIDTH} (mn04); "
                          f"got {config.width_mult}: use init = 'scratch' and distil instead")
    weight, bias = state[f"{LAST_LAYER}.weight"], state[f"{LAST_LAYER}.bias"]
    body = {k: v for k, v in state.items() if not k.startswith(LAST_LAYER + ".")}
    if config.head == "audioset_rows":
        index = torch.tensor([idx for _c, idx, _n in audioset_rows(config.classes)])
        new_w, new_b = weight[index], bias[index]
    else:  # linear: the mean row scores the mean member logit, a fair start for a single row
        new_w = torch.stack([weight[list(AUDIOSET_MAP[c])].mean(0) for c in config.classes])
        new_b = torch.stack([bias[list(AUDIOSET_MAP[c])].mean(0) for c in config.classes])
    body[f"{LAST_LAYER}.weight"], body[f"{LAST_LAYER}.bias"] = new_w, new_b
    # strict=True: every mn04 tensor must land somewhere, or the architecture drifted.
    net.backbone.load_state_dict(body, strict=True)


def build_model(config: TrainConfig) -> tuple[TaggerNet, ModelCard]:
    """The network to train and its card, initialised as ``config.init`` says."""
    if config.init == "model":
        from tagger.model.registry import load_model

        net, card = load_model(config.from_model)
        if list(card.classes) != list(config.classes):
            raise ConfigError(f"model {card.name!r} has classes {card.classes}; fine-tuning keeps "
                              "a model's classes (set classes to match or train from audioset)")
        card.name, card.version = config.name, config.version
        if config.from_hop_length and config.from_hop_length != card.frontend.hop_length:
            card.frontend = replace(card.frontend, hop_length=config.from_hop_length)
            net.frontend = LogMel(card.frontend, card.sample_rate).to(
                next(net.parameters()).device)
        net.requires_grad_(True)
        return net, card
    card = card_for(config)
    net = build_network(card)
    if config.init == "audioset":
        init_from_audioset(net, config, load_pretrained(config.pretrained))
    return net, card


def config_from_card(config: TrainConfig, card: ModelCard) -> TrainConfig:
    """Make the config describe a loaded model (``--from``), so the saved config is truthful."""
    head = (card.architecture.get("head") or {}).get("type")
    return config.updated(
        sample_rate=card.sample_rate, window_s=card.window_s, hop_s=card.hop_s,
        n_mels=card.frontend.n_mels, n_fft=card.frontend.n_fft,
        win_length=card.frontend.win_length,
        hop_length=config.from_hop_length or card.frontend.hop_length,
        width_mult=float(card.architecture.get("width_mult", config.width_mult)),
        role_head=bool(card.architecture.get("role_head")),
        head="audioset_rows" if head == "audioset_map" else "linear")


def param_groups(net: TaggerNet, config: TrainConfig) -> list[dict[str, Any]]:
    """AdamW groups: low LR for the pretrained body, full LR for heads; no decay on norms/biases.

    The body holds what AudioSet taught; a 10x lower LR lets it adapt without being overwritten
    by the first noisy batches. A model from scratch has nothing to protect: one LR for all.
    """
    body_lr = config.lr * (config.backbone_lr_mult if config.init != "scratch" else 1.0)
    groups: dict[tuple[str, bool], list[Tensor]] = {}
    for name, param in net.named_parameters():
        if not param.requires_grad:
            continue
        is_head = name.startswith(("backbone.classifier", "role_head", "head"))
        decay = param.ndim > 1
        groups.setdefault(("head" if is_head else "body", decay), []).append(param)
    out = []
    for (part, decay), params in sorted(groups.items()):
        out.append({"params": params, "lr": config.lr if part == "head" else body_lr,
                    "weight_decay": config.weight_decay if decay else 0.0, "name": f"{part}"})
    return out
