"""``tagger scan --engine ray``: the same scan, with decoding and inference on a Ray cluster.

The driver (this process) plans the scan exactly as the local engine does (``plan``: discover,
skip unchanged), then streams the tracks to scan through a Ray Data pipeline::

    from_items(track, path) ─▶ map_batches(decode_tracks)      CPU tasks: decode ▸ chunk
                            ─▶ map_batches(ModelActor)          actors: one model copy each
                            ─▶ iter_batches on the driver ─▶ TrackAssembler ─▶ ResultSink ─▶ store

Only *where* things run differs from the local engine: ``scan()`` plans, loads the model and
finishes the run for both; decoding and chunking are ``TrackDataset``'s, scoring is
``BatchScorer``'s, and finished tracks go through the same ``TrackAssembler`` and ``ResultSink``
(segmenter, small transactions, error rows, decode notes). The driver alone writes the store.

Memory: the pipeline streams (Ray Data's executor back-pressures on object-store use), the
driver keeps only the tracks in flight, and the track list is fed in slices of
``RayOptions.slice_tracks`` so neither the object store nor the driver holds per-track objects
for a whole catalogue at once.

Faults: a decode task whose worker dies is retried (``task_retries``), a dead model actor is
restarted and its batches retried. A retry may deliver rows twice and in any order, so the
driver keys every window by ``(track, window)``, keeps the first copy and stores each track
once, when all its windows are in (``TrackAssembler``, fed one window row at a time).
Nothing heavy loads at import (``tagger.engines`` is imported by every scan): Ray, torch and
numpy load when a scan runs.
"""

from __future__ import annotations

import logging
import math
import os
import socket
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, fields, replace
from typing import TYPE_CHECKING, Any

from tagger.engines.base import Engine, EngineError
from tagger.model.card import ModelCard
from tagger.pipeline.discover import Candidate
from tagger.pipeline.scanning import (ResultSink, ScanOptions, ScanProgress, default_batch_size,
                                      model_threads)

if TYPE_CHECKING:
    import numpy as np
    import ray.data
    import torch

    from tagger.pipeline.assemble import TrackAssembler
    from tagger.pipeline.decode_stage import ChunkSpec


class RayEngineError(EngineError):
    """A problem the user fixes (Ray missing, cluster unreachable, no GPU), shown as one line."""


log = logging.getLogger(__name__)
LOST = "not finished by the Ray pipeline; not stored, so the next scan retries it"


@dataclass
class RayOptions:
    """Where and how wide the Ray pipeline runs; ``None`` means "decide from the cluster"."""

    address: str | None = None  # None: $RAY_ADDRESS, else the local cluster, else start one
    actors: int | None = None  # model copies: one per GPU, else cluster CPUs // 4 (>= 1)
    actor_cpus: float = 1.0  # CPUs per model actor (its torch threads on a CPU-only cluster)
    use_gpus: bool | None = None  # None: when the cluster has GPUs and the device allows
    decode_cpus: float = 1.0  # CPUs per decode task
    tracks_per_task: int | None = None  # None: small enough to spread over the cluster
    slice_tracks: int = 20_000  # tracks per Ray Data run; bounds per-track state everywhere
    task_retries: int = 3  # per decode task: a file that kills its worker fails, not loops
    actor_task_retries: int = 3  # per model batch, likewise
    max_in_flight_mb: int = 32  # Ray Data block size target (MiB) between the stages


def ray_available() -> bool:
    """Whether the ``ray`` extra is installed (``pip install "tagger[ray]"``)."""
    try:
        import ray  # noqa: F401
        import ray.data  # noqa: F401
    except ImportError:
        return False
    return True


def connect(address: str | None) -> bool:
    """Join (or start) a Ray cluster unless this process already did; True if we connected.

    Worker output is not forwarded to the driver: a decode warning printed on a worker would
    tear the progress bar, and each failure reaches the user as an error row anyway.
    """
    import ray

    if ray.is_initialized():
        return False
    _probe(address or os.environ.get("RAY_ADDRESS") or "")
    try:
        ray.init(address=address, log_to_driver=False, logging_level=logging.WARNING,
                 configure_logging=True)
    except (ConnectionError, TimeoutError, ValueError) as exc:
        where = address or os.environ.get("RAY_ADDRESS") or "the local machine"
        raise RayEngineError(f"cannot join the Ray cluster at {where}: {exc}") from exc
    return True


def _probe(address: str, timeout_s: float = 10.0) -> None:
    """Fail in seconds on an unreachable ``host:port``: ``ray.init`` retries for minutes."""
    target = address.removeprefix("ray://")
    host, _, port = target.rpartition(":")
    if not host or not port.isdigit():
        return  # "", "auto", "local": Ray finds or starts the cluster itself
    try:
        socket.create_connection((host, int(port)), timeout=timeout_s).close()
    except OSError as exc:
        raise RayEngineError(f"cannot reach the Ray cluster at {address}: {exc}") from exc


@dataclass(frozen=True)
class _Plan:
    """How the pipeline uses the cluster it found."""

    use_gpus: bool
    actors: int
    actor_cpus: float
    decode_cpus: float
    batch_size: int  # windows per model call
    threads: int  # torch threads per actor


def _cluster_plan(options: ScanOptions, ropts: RayOptions) -> _Plan:
    """Model actors and CPU shares from the cluster's resources and the options.

    One actor per GPU when there are GPUs (and the device allows), else a quarter of the
    CPUs. On a cluster too small for the actors plus one decode task, the shares shrink
    instead: with every CPU held by an actor, no track would ever decode and Ray Data waits.
    """
    import ray

    resources = ray.cluster_resources()
    gpus = int(resources.get("GPU", 0))
    cpus = float(resources.get("CPU", 1))
    if options.device.startswith("cuda") and gpus == 0:
        raise RayEngineError("--device cuda asked for, but the Ray cluster has no GPU")
    use_gpus = ropts.use_gpus if ropts.use_gpus is not None else (
        gpus > 0 and options.device != "cpu")
    if use_gpus and gpus == 0:
        raise RayEngineError("GPU actors asked for, but the Ray cluster has no GPU")
    actors = ropts.actors if ropts.actors is not None else (
        gpus if use_gpus else max(1, int(cpus) // 4))
    actors = max(1, actors)
    actor_cpus, decode_cpus = ropts.actor_cpus, ropts.decode_cpus
    if cpus - actors * actor_cpus < decode_cpus:
        actor_cpus = decode_cpus = cpus / (actors + 1)
    # The local engine's measured defaults, and no more torch threads than the cores reserved.
    batch_size = options.batch_size or default_batch_size("cuda" if use_gpus else "cpu")
    threads = model_threads(options.threads, actor_cpus)
    return _Plan(use_gpus, actors, actor_cpus, decode_cpus, batch_size, threads)


def build_pipeline(items: list[dict[str, Any]], model_ref: Any, spec: ChunkSpec,
                   options: ScanOptions, ropts: RayOptions, plan_: _Plan,
                   tracks_per_task: int) -> "ray.data.Dataset":
    """The lazy Ray Data pipeline for one slice of tracks (nothing runs until iterated)."""
    import ray.data

    from tagger.engines.ray_stages import ModelActor, decode_tracks

    blocks = max(1, math.ceil(len(items) / max(1, tracks_per_task)))
    ds = ray.data.from_items(items, override_num_blocks=blocks)
    with warnings.catch_warnings():
        # Retry limits have no named parameter in Ray Data: they go through the generic remote
        # arguments, which Ray >= 2.5x flags as deprecated. They also keep Ray Data from fusing
        # decoding into the actors (fused, tracks would decode inside the few model processes).
        warnings.simplefilter("ignore", DeprecationWarning)
        ds = ds.map_batches(
            decode_tracks, batch_size=1, batch_format="numpy", zero_copy_batch=True,
            fn_kwargs={"spec": spec, "chunks_per_piece": options.chunks_per_piece},
            num_cpus=plan_.decode_cpus, max_retries=ropts.task_retries)
        return ds.map_batches(
            ModelActor, batch_size=plan_.batch_size, batch_format="numpy",
            fn_constructor_args=(model_ref, plan_.use_gpus, plan_.threads, plan_.batch_size),
            compute=ray.data.ActorPoolStrategy(size=plan_.actors),
            num_cpus=plan_.actor_cpus, num_gpus=1 if plan_.use_gpus else 0,
            max_restarts=-1,  # a long scan on preemptible nodes loses actors; restarts reload
            max_task_retries=ropts.actor_task_retries)


@contextmanager
def _data_context(ropts: RayOptions) -> Iterator[None]:
    """Quiet, unordered, small blocks for this scan; the caller's Ray Data settings come back.

    Unordered lets rows reach the driver as soon as they exist (it reorders by index anyway).
    The progress bars are off because the CLI draws its own; so is Ray's warning about that.
    """
    import ray.data

    ctx = ray.data.DataContext.get_current()
    settings = {"enable_progress_bars": False, "print_on_execution_start": False,
                "target_max_block_size": ropts.max_in_flight_mb * 1024 * 1024}
    saved = {key: getattr(ctx, key, None) for key in settings}
    saved_order = ctx.execution_options.preserve_order
    loggers = {name: logging.getLogger(name) for name in ("ray.data", "ray.data._internal.progress")}
    saved_levels = {name: lg.level for name, lg in loggers.items()}
    for key, value in settings.items():
        setattr(ctx, key, value)
    ctx.execution_options.preserve_order = False
    loggers["ray.data"].setLevel(logging.WARNING)
    loggers["ray.data._internal.progress"].setLevel(logging.ERROR)
    try:
        yield
    finally:
        for key, value in saved.items():
            setattr(ctx, key, value)
        ctx.execution_options.preserve_order = saved_order
        for name, level in saved_levels.items():
            loggers[name].setLevel(level)


def run_pipeline(to_scan: list[Candidate], model: "torch.nn.Module", card: ModelCard,
                 options: ScanOptions, ropts: RayOptions, sink: ResultSink) -> list[Candidate]:
    """Score ``to_scan`` on the cluster into ``sink``; returns the tracks not finished."""
    import ray

    from tagger.pipeline.assemble import TrackAssembler
    from tagger.pipeline.decode_stage import ChunkSpec

    plan_ = _cluster_plan(options, ropts)
    spec = ChunkSpec.from_seconds(card.sample_rate, card.window_s, card.hop_s)
    model_ref = ray.put(model.cpu())  # once; every actor (and restart) reads the same copy
    cpus = int(ray.cluster_resources().get("CPU", 1))
    lost: list[Candidate] = []
    for start in range(0, len(to_scan), max(1, ropts.slice_tracks)):
        chunk = to_scan[start : start + ropts.slice_tracks]
        per_task = ropts.tracks_per_task or max(1, min(8, len(chunk) // max(1, 4 * cpus)))
        items = [{"track": i, "path": os.fsencode(c.path)} for i, c in enumerate(chunk)]
        assembler = TrackAssembler(chunk, sink)
        with _data_context(ropts):  # captured by the dataset when it is built and run
            ds = build_pipeline(items, model_ref, spec, options, ropts, plan_, per_task)
            for batch in ds.iter_batches(batch_size=None, batch_format="numpy",
                                         prefetch_batches=2):
                hand_over(batch, assembler)
        lost += assembler.unfinished()
        if assembler.duplicates:
            log.info("ignored %d repeated rows from retried Ray tasks", assembler.duplicates)
        sink.flush()
    return lost


def hand_over(batch: dict[str, np.ndarray], assembler: TrackAssembler) -> None:
    """Give the assembler one batch of scored rows (``ray_stages``' columns), row by row: a
    retried task may regroup windows, so each window is keyed on its own."""
    foreground, notes = batch.get("foreground"), batch.get("note")
    for i, track in enumerate(batch["track"].tolist()):
        error = batch["error"][i]
        if error:
            assembler.failed(track, str(error))
            continue
        # copies: a view would pin the whole batch (in the object store) in memory
        fg = None if foreground is None else foreground[i : i + 1].copy()
        assembler.scored(track, batch["presence"][i : i + 1].copy(), fg,
                         first=int(batch["window"][i]))
        total = int(batch["total"][i])
        if total >= 0:  # the track's last window: its count, duration and decode note
            note = str(notes[i]) if notes is not None and notes[i] else None
            assembler.decoded(track, total, float(batch["duration"][i]), note)


class RayEngine(Engine):
    """Decode tasks and model actors on a Ray cluster, joined (or started) for the scan.

    Joins the cluster at ``options.address`` only when there is something to scan, so
    re-scanning an unchanged library never touches Ray. A Ray failure (retries exhausted)
    raises after the finished tracks are stored; the next scan resumes.
    """

    name = "ray"
    settings = frozenset(f.name for f in fields(RayOptions))
    unfinished_message = LOST

    def __init__(self, options: RayOptions | None = None, **settings: Any):
        self.options = replace(options or RayOptions(), **settings)

    @contextmanager
    def session(self, options: ScanOptions) -> Iterator[torch.device]:
        """Connected to the cluster; the model loads on this CPU and is shipped to the actors."""
        if not ray_available():
            raise RayEngineError('the Ray engine needs Ray: pip install "tagger[ray]"')
        import torch

        connected = connect(self.options.address)
        try:
            yield torch.device("cpu")
        finally:
            if connected:
                import ray

                ray.shutdown()

    def run(self, to_scan: list[Candidate], model: torch.nn.Module, card: ModelCard,
            device: torch.device, options: ScanOptions, sink: ResultSink,
            progress: ScanProgress) -> list[Candidate]:
        return run_pipeline(to_scan, model, card, options, self.options, sink)
