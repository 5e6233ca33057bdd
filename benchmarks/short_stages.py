"""Where a short clip's CPU time goes, stage by stage, in one process (bench_short --profile).

Each stage runs over the same clips with ``time.process_time`` and the minimum of ``--repeat``
runs per clip, so a machine shared with other work moves the figures less than wall times:

- worker side, per clip and format: open (stat, sniff, Ogg tail check, backend open), read and
  mix to mono, resample to the model's rate, and the whole decode stage as a worker runs it
  (all of the above plus cutting and windowing);
- main process: the frontend and the CNN per window (batches of the scan's CPU batch size, one
  thread), the segmenter per track, and the store write per track (one batch of tracks).

Usage: python benchmarks/short_stages.py [--clips 200] [--repeat 3] (imports the tagger
package from the current directory, so ``cd OTHER && python .../short_stages.py`` profiles
another checkout).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, os.getcwd())
CLIPS = Path(__file__).resolve().parent.parent / "build" / "bench-short" / "clips1000"


def first_module(*names: str):  # noqa: ANN201
    """The first of ``names`` that imports: the package layout moves (tagger.pipeline, .audio)."""
    import importlib

    for name in names:
        try:
            return importlib.import_module(name)
        except ImportError:
            continue
    raise ImportError(f"none of {names}")


def best_cpu(fn: Callable[[], object], repeat: int) -> float:
    """The smallest CPU time of ``repeat`` calls of ``fn``, in seconds."""
    best = float("inf")
    for _ in range(repeat):
        started = time.process_time()
        fn()
        best = min(best, time.process_time() - started)
    return best


def decode_stages(paths: list[Path], repeat: int) -> dict[str, dict[str, list[float]]]:
    """Per format, per stage: the CPU seconds of each clip."""
    import numpy as np
    import soxr

    dec = first_module("tagger.decode", "tagger.audio.decode")
    stage = first_module("tagger.dataset", "tagger.pipeline.decode_stage")
    spec = stage.ChunkSpec.from_seconds(32000, 5.0, 5.0)
    dataset = stage.TrackDataset([str(p) for p in paths], spec)
    out: dict[str, dict[str, list[float]]] = {}

    opener = getattr(dec, "_open", None)  # the old layout; now tagger.audio.opening.open_track
    if opener is None:
        opener = first_module("tagger.audio.opening").open_track

    def opened(path: Path):  # noqa: ANN202
        return opener(str(path), "auto")

    for i, path in enumerate(paths):
        stages = out.setdefault(path.suffix, {})
        src = opened(path).source
        rate = src.sample_rate
        mono = np.concatenate(list(src.chunks()))
        src.close()

        def read() -> None:
            s = opened(path).source
            for _ in s.chunks():
                pass
            s.close()

        open_s = best_cpu(lambda: opened(path).source.close(), repeat)
        timings = {
            "open": open_s,
            "read+mix": best_cpu(read, repeat) - open_s,
            "resample": best_cpu(lambda: soxr.resample(mono, rate, 32000, quality="HQ"), repeat),
            "decode stage": best_cpu(lambda: list(dataset._track(i)), repeat),
        }
        for stage, seconds in timings.items():
            stages.setdefault(stage, []).append(seconds)
    return out


def model_stages(paths: list[Path], repeat: int) -> tuple[int, dict[str, float]]:
    """Windows scored, and the CPU seconds per window of the frontend and the CNN."""
    import numpy as np
    import torch

    from tagger.model.registry import load_model_for_scanning

    frame = first_module("tagger.chunking", "tagger.pipeline.chunking").frame
    decode = first_module("tagger.decode", "tagger.audio.decode").decode
    CPU_BATCH = first_module("tagger.scanning", "tagger.pipeline.scanning").CPU_BATCH  # noqa: N806

    torch.set_num_threads(1)
    model, card = load_model_for_scanning(None, device="cpu")
    window, hop = round(card.window_s * card.sample_rate), round(card.hop_s * card.sample_rate)
    windows = torch.from_numpy(np.concatenate(
        [frame(decode(p, sample_rate=card.sample_rate), window=window, hop=hop) for p in paths]))
    batches = list(windows.split(CPU_BATCH))
    with torch.inference_mode():
        specs = [model.frontend(b) for b in batches]
        frontend = best_cpu(lambda: [model.frontend(b) for b in batches], repeat)
        cnn = best_cpu(lambda: [model.forward_spec(s) for s in specs], repeat)
        presence = torch.sigmoid(torch.cat([model(b)[0] for b in batches])).numpy()
    n = len(windows)
    return n, {"frontend": frontend / n, "cnn": cnn / n, "presence": presence}  # type: ignore


def track_stages(n_tracks: int, presence, repeat: int) -> dict[str, float]:  # noqa: ANN001
    """CPU seconds per track of the segmenter and of the store write."""
    from tagger.model.card import ModelCard
    from tagger.model.registry import find_card
    from tagger.store import Store, TrackResult

    segments_module = first_module("tagger.segments", "tagger.pipeline.segments")
    SegmenterConfig, segment_track = (  # noqa: N806
        segments_module.SegmenterConfig, segments_module.segment_track)

    card = ModelCard.load(find_card(None))
    config = SegmenterConfig.from_card(card)
    rows = [presence[i % len(presence)][None].repeat(1 + i % 2, axis=0) for i in range(n_tracks)]
    seg = best_cpu(lambda: [segment_track(r, r, duration_s=5.0 * len(r), config=config)
                            for r in rows], repeat)
    results = []
    for i, r in enumerate(rows):
        segments, summary = segment_track(r, r, duration_s=5.0 * len(r), config=config)
        results.append(TrackResult(path=f"/clips/c{i}.wav", size=1, mtime_ns=1, model=card.id,
                                   duration=5.0 * len(r), format="wav", segments=segments,
                                   instruments=summary, classes=list(card.classes),
                                   window_s=card.window_s, hop_s=card.hop_s, presence=r,
                                   foreground=r))
    with tempfile.TemporaryDirectory() as tmp, Store(Path(tmp) / "s.db") as store:
        write = best_cpu(lambda: [store.write_results(results[j: j + 64])
                                  for j in range(0, len(results), 64)], repeat)
    return {"segment": seg / n_tracks, "store write": write / n_tracks}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    lengths = json.loads((CLIPS / "manifest.json").read_text())
    paths = [CLIPS / name for name in list(lengths)[: args.clips]]
    import tagger

    print(f"tagger from {Path(tagger.__file__).parent}; {len(paths)} clips"
          f" (mean {statistics.mean(lengths[p.name] for p in paths):.2f} s);"
          f" CPU ms, min of {args.repeat}")
    stages = decode_stages(paths, args.repeat)
    names = list(next(iter(stages.values())))
    print(f"\n{'format':<8}{'clips':>6}" + "".join(f"{s:>14}" for s in names))
    every: dict[str, list[float]] = {s: [] for s in names}
    for fmt, per in stages.items():
        print(f"{fmt:<8}{len(per[names[0]]):>6}"
              + "".join(f"{1e3 * statistics.mean(per[s]):14.2f}" for s in names))
        for s in names:
            every[s] += per[s]
    print(f"{'all':<8}{len(every[names[0]]):>6}"
          + "".join(f"{1e3 * statistics.mean(every[s]):14.2f}" for s in names))
    windows, model = model_stages(paths, args.repeat)
    tracks = track_stages(len(paths), model.pop("presence"), args.repeat)
    per_clip = windows / len(paths)
    print(f"\nmain process, per window ({windows} windows, {per_clip:.2f} per clip): "
          + ", ".join(f"{k} {1e3 * v:.2f} ms" for k, v in model.items()))
    print("main process, per track: " + ", ".join(f"{k} {1e3 * v:.2f} ms"
                                                 for k, v in tracks.items()))
    total = (statistics.mean(every["decode stage"]) + per_clip * sum(model.values())
             + sum(tracks.values()))
    print(f"per clip, these stages together: {1e3 * total:.1f} ms CPU"
          f" (the scan adds hand-off, batching, progress and start-up)")


if __name__ == "__main__":
    main()
