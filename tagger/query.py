"""Find tracks by the instruments in them: what a query means, checked, and its rows as hits.

A query is a :class:`QuerySpec` (what the CLI's ``--has/--any/--not/...`` options say);
:func:`compile_query` resolves its names and checks its values into the store's
``InstrumentQuery``, which ``tagger.store.queries`` turns into a single statement so SQLite's
planner, not Python, does the work; :func:`run_query` folds the rows into :class:`TrackHit`
hits.

Semantics:

- an instrument is *present* in a track when its ``track_instruments`` row has ``coverage > 0``
  (the scanner writes a row for every class, with coverage 0 when there is no segment);
- each ``has`` name is one AND-ed condition; a group (``guitar``) is satisfied by any member;
- all ``any`` names (comma-separated, repeatable) form one OR-ed condition;
- ``not`` names exclude tracks where any of them is present, whatever its score or role;
- ``min_score``, ``min_coverage`` and ``role`` restrict the asked (``has``/``any``) instruments;
  with no instrument asked they apply to "some instrument", so ``--role foreground`` alone lists
  tracks that have a lead instrument.

Results come sorted by the best score among the matched instruments (then by path).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from tagger import taxonomy
from tagger.pipeline.discover import AUDIO_EXTENSIONS
from tagger.errors import TaggerError
from tagger.export import atomic_file
from tagger.printable import printable
from tagger.store.db import InstrumentSummary, Store
from tagger.store.lookups import instrument_names
from tagger.store.queries import InstrumentQuery, instrument_query_rows
from tagger.taxonomy import UnknownInstrumentError

__all__ = [
    "QuerySpec",
    "TrackHit",
    "QueryError",
    "UnknownInstrumentError",
    "run_query",
    "compile_query",
    "store_classes",
    "write_m3u",
    "m3u_fits",
    "KNOWN_FORMATS",
]


class QueryError(TaggerError, ValueError):
    """A query that cannot mean anything (bad role, score outside [0, 1], ...): a usage error."""


@dataclass
class QuerySpec:
    """What to look for; every field is optional and an empty spec lists every ``ok`` track."""

    has: list[str] = field(default_factory=list)
    any: list[str] = field(default_factory=list)
    not_: list[str] = field(default_factory=list)
    min_score: float | None = None
    min_coverage: float | None = None
    role: str | None = None
    path_glob: str | None = None
    path_contains: str | None = None
    formats: list[str] = field(default_factory=list)
    status: str | None = "ok"
    limit: int | None = None


@dataclass(slots=True)
class TrackHit:
    """One matching track and the asked instruments that made it match."""

    track_id: int
    path: str
    path_key: bytes
    duration: float | None
    format: str | None
    model: str | None
    status: str
    error: str | None
    matched: list[InstrumentSummary]

    @property
    def best_score(self) -> float | None:
        return max((m.score for m in self.matched), default=None)

    def to_dict(self) -> dict[str, Any]:
        """The ``--json`` form: the export record's fields, limited to the matched instruments."""
        out: dict[str, Any] = {
            "path": self.path,
            "duration": self.duration,
            "format": self.format,
            "model": self.model,
            "status": self.status,
        }
        if self.status != "ok":
            out["error"] = self.error
        out["instruments"] = {
            m.instrument: {"score": m.score, "coverage": m.coverage, "role": m.role}
            for m in self.matched
        }
        return out


def split_names(values: Iterable[str]) -> list[str]:
    """``["sax,trumpet", "flute"]`` -> ``["sax", "trumpet", "flute"]`` (blank items dropped)."""
    return [part.strip() for value in values for part in value.split(",") if part.strip()]


def store_classes(store: Store) -> tuple[str, ...]:
    """The instrument classes the store knows (what its models scanned), else the taxonomy's.

    Runs before every query, so it is a loose index scan (``store.lookups.instrument_names``).
    """
    return instrument_names(store) or taxonomy.CLASSES


def _normalize_format(fmt: str) -> str:
    return fmt.strip().lower().lstrip(".")


# What ``--format`` can name: the extensions a scan picks up, as the scanner stores them.
KNOWN_FORMATS: tuple[str, ...] = tuple(sorted(ext.lstrip(".") for ext in AUDIO_EXTENSIONS))


def _check(spec: QuerySpec) -> None:
    if spec.role is not None and spec.role not in taxonomy.ROLES:
        words = ", ".join(f"{r} ({'/'.join(a for a, c in taxonomy.ROLE_ALIASES.items() if c == r)})"
                          for r in taxonomy.ROLES)
        raise QueryError(f"role must be one of {words}, not {spec.role!r}")
    for name, value in (("min-score", spec.min_score), ("min-coverage", spec.min_coverage)):
        if value is not None and not 0.0 <= value <= 1.0:
            raise QueryError(f"--{name} must be between 0 and 1, not {value}")
    unknown = [f for f in spec.formats if f.strip() and _normalize_format(f) not in KNOWN_FORMATS]
    if unknown:
        raise QueryError(f"unknown --format {unknown[0].strip()!r}; use one of"
                         f" {', '.join(KNOWN_FORMATS)}")
    if spec.limit is not None and spec.limit < 0:
        raise QueryError(f"--limit must be positive, not {spec.limit}")


def compile_query(spec: QuerySpec, classes: Sequence[str]) -> InstrumentQuery:
    """``spec`` in the store's terms: names resolved to ``classes``, values checked.

    Raises :class:`UnknownInstrumentError` for a name ``classes`` cannot resolve, and
    :class:`QueryError` for impossible values. The statement itself is
    ``tagger.store.queries.instrument_query_sql``'s.
    """
    spec = replace(spec, role=taxonomy.canonical_role(spec.role))
    _check(spec)
    conditions = [list(taxonomy.resolve(n, classes)) for n in split_names(spec.has)]
    any_members = [c for n in split_names(spec.any) for c in taxonomy.resolve(n, classes)]
    if any_members:
        conditions.append(list(dict.fromkeys(any_members)))
    excluded = [c for n in split_names(spec.not_) for c in taxonomy.resolve(n, classes)]
    # The scanner stores the lower-case extension without its dot (discover.Candidate).
    formats = [_normalize_format(f) for f in spec.formats if f.strip()]
    return InstrumentQuery(
        conditions=conditions, excluded=excluded, min_score=spec.min_score,
        min_coverage=spec.min_coverage, role=spec.role, status=spec.status,
        path_glob=spec.path_glob, path_contains=spec.path_contains, formats=formats,
        limit=spec.limit)


def run_query(
    store: Store, spec: QuerySpec, *, classes: Sequence[str] | None = None
) -> list[TrackHit]:
    """Tracks matching ``spec``, best first; ``classes`` defaults to :func:`store_classes`."""
    query = compile_query(spec, classes if classes is not None else store_classes(store))
    hits: dict[int, TrackHit] = {}
    limit = query.limit
    for tid, path, key, duration, fmt, model, status, error, name, score, coverage, role in (
        instrument_query_rows(store, query)
    ):
        hit = hits.get(tid)
        if hit is None:
            if limit is not None and len(hits) >= limit:
                continue  # rows come best first: later tracks are past the limit
            hit = hits[tid] = TrackHit(tid, path, key, duration, fmt, model, status, error, [])
        if name is not None:
            hit.matched.append(InstrumentSummary(name, score, coverage, role))
    return list(hits.values())


def _m3u_title(hit: TrackHit) -> str:
    """"Artist - Title" from the file's own tags when it has them (the store holds no tags),
    else the file name without its extension, which is what players show anyway."""
    from tagger.track_titles import artist_title

    name = os.path.basename(hit.path)
    stem, _ext = os.path.splitext(name)
    return printable(artist_title(hit.path_key) or stem or name)


def m3u_fits(hit: TrackHit) -> bool:
    """Whether a playlist can hold the track: M3U is one path per line, so a name with a line
    break cannot be written (it would become two entries, neither of them the file)."""
    return b"\n" not in hit.path_key and b"\r" not in hit.path_key


def m3u_bytes(hits: Iterable[TrackHit]) -> bytes:
    """Extended M3U: ``#EXTINF:<seconds>,<title>`` then the path's exact bytes per track.

    Paths are written as the bytes the file system holds (not the escaped display form), so a
    player finds files whose names are not valid UTF-8; the rest is UTF-8. Tracks that do not
    :func:`m3u_fits` are left out.
    """
    out = [b"#EXTM3U\n"]
    for hit in hits:
        if not m3u_fits(hit):
            continue
        seconds = -1 if hit.duration is None else int(round(hit.duration))
        out.append(f"#EXTINF:{seconds},{_m3u_title(hit)}\n".encode("utf-8", "backslashreplace"))
        out.append(hit.path_key + b"\n")
    return b"".join(out)


def write_m3u(hits: Iterable[TrackHit], path: str | os.PathLike[str]) -> Path:
    """Write the playlist atomically (temp file + rename): a reader never sees half of it.
    The folder must exist (``FileNotFoundError`` otherwise)."""
    data = m3u_bytes(hits)
    with atomic_file(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)
