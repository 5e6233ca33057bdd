"""Build the interim shipped model ``tagger-as``: EfficientAT mn04 + an AudioSet->class map.

No training: the pretrained AudioSet network is wrapped with our frontend and a fixed map from
AudioSet classes to ours, then per-class thresholds are calibrated and validation figures
measured on real recordings (benchmarks/eval_real.py). Writes ``models/tagger-as.pt`` (a
``state_dict``, ~4 MB) and ``models/tagger-as.json`` (the card).

    .venv/bin/python models/build_audioset_model.py \
        [--pretrained ../shared/pretrained/mn04_as_mAP_432.pt] [--data ../shared/data/real]
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]  # the checkout: this script is not shipped
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
from tagger.config import shared_dir  # noqa: E402
from tagger.model.card import FrontendConfig, ModelCard  # noqa: E402
from tagger.model.network import AUDIOSET_MAP, build_network, map_to_json  # noqa: E402
from tagger.taxonomy import CLASSES  # noqa: E402

NAME, VERSION = "tagger-as", "0.1"
SHARED = shared_dir()
# 5-s non-overlapping windows: half the network cost of 50 % overlap, 5-s segment resolution,
# and on real clips as accurate as 10-s windows (see models/README.md for the measurement).
WINDOW_S, HOP_S = 5.0, 5.0
# noisy-or over a class's AudioSet outputs: measured better than max on mixture AP and voice
# ROC-AUC; identical for the classes with a single AudioSet output.
COMBINE = "noisy_or"


def make_card(thresholds: dict[str, float], validation: dict) -> ModelCard:
    return ModelCard(
        name=NAME,
        version=VERSION,
        classes=list(CLASSES),
        sample_rate=32000,
        window_s=WINDOW_S,
        hop_s=HOP_S,
        thresholds=thresholds,
        architecture={
            "type": "mobilenet_v3_audio",
            "width_mult": 0.4,
            "num_outputs": 527,
            "head": {"type": "audioset_map", "combine": COMBINE, "map": map_to_json(AUDIOSET_MAP)},
            "role_head": False,
        },
        frontend=FrontendConfig(n_mels=128, n_fft=1024, win_length=800, hop_length=320,
                                f_min=0.0, f_max=15000.0),
        description=(
            "Interim model: EfficientAT mn04 (AudioSet, mAP 0.432) with its 527 outputs mapped "
            "to our 14 classes (class probability = noisy-or of the mapped AudioSet "
            "probabilities, 1 - prod(1 - p)). "
            "No role head: the scanner decides foreground from relative scores."),
        role_method="relative",
        training_data=[{
            "name": "AudioSet (via EfficientAT mn04_as_mAP_432)",
            "source": "https://github.com/fschmid56/EfficientAT (Schmid, Koutini, Widmer, "
                      "ICASSP 2023); AudioSet: Gemmeke et al. 2017",
            "licence": "MIT (weights); AudioSet ontology and labels CC BY 4.0",
            "use": "pretrained weights, unchanged",
        }, {
            "name": "real recordings (../shared/data/real), thresholds and validation only",
            "source": "Philharmonia Orchestra samples, UIowa MIS piano, karoryfer weresax, "
                      "tonejs-instruments, GrandOrgue demo set, OLPC Berklee vowels, guitarsounds, "
                      "mirdata test fixtures, a few GitHub-hosted clips (see its manifest.csv)",
            "licence": "per file: CC BY-SA 3.0, CC0, CC BY 3.0, GPL-2.0+, free-to-use; one "
                       "CC BY-NC-SA 4.0 excerpt and one of unclear licence. No audio is shipped; "
                       "only 14 thresholds are fitted on it",
            "use": "per-class thresholds (max F1 on mixtures) and the validation figures",
        }],
        reproduce=".venv/bin/python models/build_audioset_model.py",
        validation=validation,
        weights=f"{NAME}.pt",
        licence="MIT",
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pretrained", type=Path,
                    default=SHARED / "pretrained" / "mn04_as_mAP_432.pt")
    ap.add_argument("--data", type=Path, default=SHARED / "data" / "real")
    ap.add_argument("--out", type=Path, default=ROOT / "models")
    ap.add_argument("--cache", type=Path, default=None, help="pickle of decoded eval audio")
    ap.add_argument("--skip-eval", action="store_true", help="weights and card only")
    args = ap.parse_args(argv)
    torch.set_num_threads(2)

    card = make_card({c: 0.5 for c in CLASSES}, {})
    net = build_network(card)
    state = torch.load(args.pretrained, map_location="cpu", weights_only=True)
    net.backbone.load_state_dict(state, strict=True)
    net.eval()
    weights = args.out / f"{NAME}.pt"
    torch.save(net.state_dict(), weights)
    digest = hashlib.sha256(args.pretrained.read_bytes()).hexdigest()
    card.training_data[0]["pretrained_sha256"] = digest

    if not args.skip_eval:
        import eval_real

        clips = eval_real.select_clips(args.data)
        eval_real.decode(clips, args.data, card.sample_rate, args.cache)
        validation, thresholds = eval_real.evaluate_on_real_clips(net, card, clips)
        card.thresholds = thresholds
        card.validation = validation
    card.save(args.out / f"{NAME}.json")
    size_mb = weights.stat().st_size / 1e6
    print(f"wrote {weights} ({size_mb:.1f} MB) and {args.out / (NAME + '.json')}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
