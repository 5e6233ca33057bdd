"""The one interface a scan engine implements: *where* decoding and scoring run.

``tagger.pipeline.run.scan`` does everything else, the same for every engine: defaults,
discovery and skipping, loading the model, the run row, the result sink and finishing the run.
An engine gets the tracks to scan and the loaded model, and hands every finished or failed
track to the sink, through the shared ``TrackAssembler`` when its windows come back in pieces.

To add one: subclass ``Engine`` in a module of this package that imports nothing heavy at
module level (``import tagger.engines`` must stay cheap: a re-scan of an unchanged library
loads no torch), implement ``run`` (and ``session`` if it needs a connection held), and add it
to ``ENGINES`` in ``tagger/engines/__init__.py``; ``tagger scan --engine NAME`` then finds it.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, ClassVar

from tagger.errors import TaggerError

if TYPE_CHECKING:
    import torch

    from tagger.model.card import ModelCard
    from tagger.pipeline.discover import Candidate
    from tagger.pipeline.scanning import ResultSink, ScanOptions, ScanProgress


class EngineError(TaggerError, RuntimeError):
    """An engine cannot run as asked (its extra missing, a cluster unreachable, no GPU): one
    line the user can act on."""


class Engine(ABC):
    """Runs the decode stage and the model for a scan; ``scan()`` does the rest."""

    name: ClassVar[str]
    # Keyword settings the engine takes (``ENGINES[name](**settings)``), so a front end can
    # refuse a setting the chosen engine has no use for (``--ray-address`` with ``local``).
    settings: ClassVar[frozenset[str]] = frozenset()
    # Said for each track ``run`` returns unfinished; the scan stays resumable.
    unfinished_message: ClassVar[str] = (
        "not finished by the scan engine; not stored, so the next scan retries it")

    def check(self, options: ScanOptions) -> None:
        """Cheap checks a front end runs before any work (raise ``EngineError`` or
        ``ValueError``); the real ones happen in ``session``."""

    @contextmanager
    def head_start(self, to_scan: list[Candidate], options: ScanOptions) -> Iterator[None]:
        """Held around ``session``, the model load and ``run``, and entered before them, while
        torch is not imported yet (seconds): work that needs neither can start here (the
        local engine decodes the first tracks). Nothing by default."""
        yield

    @contextmanager
    def session(self, options: ScanOptions) -> Iterator[torch.device]:
        """Hold what a run needs (a cluster connection) around it; yields the device to load
        the model on. Entered only when there is something to scan."""
        from tagger.pipeline.inference import pick_device

        yield pick_device(options.device)

    @abstractmethod
    def run(self, to_scan: list[Candidate], model: torch.nn.Module, card: ModelCard,
            device: torch.device, options: ScanOptions, sink: ResultSink,
            progress: ScanProgress) -> list[Candidate]:
        """Scan ``to_scan``, handing each finished or failed track to ``sink``; returns the
        tracks it could not finish (not stored, reported with ``unfinished_message``)."""
