"""Build ``tagger-yamnet``: YAMNet (our PyTorch port) + a map of its AudioSet classes to ours.

Reads ``../shared/pretrained/yamnet.tflite`` once, dequantizes its int8 weights and writes
``models/tagger-yamnet.pt`` (float32 ``state_dict``, ~15 MB) and the card, so scans and the
ensemble need nothing outside ``models/``. The map uses the same AudioSet classes as
tagger-as's (``tagger.model.network.AUDIOSET_MAP``), found by name in YAMNet's 521.

    .venv/bin/python models/build_yamnet_model.py [--tflite PATH] [--patch-pool max|mean]
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]  # the checkout: this script is not shipped
sys.path.insert(0, str(ROOT))
from tagger.config import shared_dir  # noqa: E402
from tagger.model.card import FrontendConfig, ModelCard  # noqa: E402
from tagger.model.network import AUDIOSET_MAP, map_to_json  # noqa: E402
from tagger.model.yamnet import load_yamnet  # noqa: E402
from tagger.taxonomy import CLASSES  # noqa: E402

SHARED = shared_dir() / "pretrained"


def yamnet_map(class_csv: Path) -> dict[str, dict[int, str]]:
    """Our class -> {YAMNet output index: name}, by AudioSet display name."""
    with open(class_csv, encoding="utf-8") as fh:
        index = {row["display_name"]: int(row["index"]) for row in csv.DictReader(fh)}
    out: dict[str, dict[int, str]] = {}
    for cls, members in AUDIOSET_MAP.items():
        out[cls] = {index[name]: name for name in members.values() if name in index}
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tflite", type=Path, default=SHARED / "yamnet.tflite")
    ap.add_argument("--classes", type=Path, default=SHARED / "yamnet_class_map.csv")
    ap.add_argument("--patch-pool", choices=("max", "mean"), default="max")
    ap.add_argument("--out", type=Path, default=ROOT / "models")
    args = ap.parse_args(argv)
    net = load_yamnet(args.tflite)
    class_map = yamnet_map(args.classes)
    card = ModelCard(
        name="tagger-yamnet", version="0.1", classes=list(CLASSES), sample_rate=16000,
        window_s=5.0, hop_s=5.0, thresholds={c: 0.5 for c in CLASSES},
        architecture={"type": "yamnet", "patch_pool": args.patch_pool,
                      "head": {"type": "audioset_map", "combine": "max",
                               "map": map_to_json(class_map)}},
        frontend=FrontendConfig(n_mels=64, n_fft=512, win_length=400, hop_length=160,
                                f_min=125.0, f_max=7500.0),
        description=("YAMNet (Google, AudioSet, MobileNetV1 on 0.96-s patches of a 64-band "
                     "log-mel at 16 kHz), ported to PyTorch from yamnet.tflite, its AudioSet "
                     "outputs mapped to our classes (max over a class's outputs and over the "
                     "patches of a 5-s window). No role head. No training."),
        role_method="relative", licence="Apache-2.0 (YAMNet weights)",
        reproduce="python models/build_yamnet_model.py",
    )
    state = {f"yamnet.{k}": v for k, v in net.state_dict().items()}
    from tagger.model.yamnet_tagger import build_yamnet_tagger

    tagger = build_yamnet_tagger(card)
    full = tagger.state_dict()
    full.update(state)
    tagger.load_state_dict(full, strict=True)
    args.out.mkdir(parents=True, exist_ok=True)
    torch.save(tagger.state_dict(), args.out / "tagger-yamnet.pt")
    card.save(args.out / "tagger-yamnet.json")
    print(f"wrote {args.out / 'tagger-yamnet.pt'} and its card")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
