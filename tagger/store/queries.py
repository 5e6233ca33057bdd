"""The SQL of ``tagger query``: a resolved :class:`InstrumentQuery` -> one statement and its rows.

What a query means (names, groups, aliases, roles, validation) and how its rows become hits are
``tagger.query``'s; here the conditions arrive as canonical class names and plain values, and
only the statement is built and run, so SQLite's planner, not Python, does the work: on a
100,000-track store ``--has sax`` must answer in well under 100 ms.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from tagger.store.db import Store

# One row per (track, matched instrument): id, path, path_key, duration, format, model, status,
# error, then instrument, score, coverage, role (``None`` for a track listed without any).
QueryRow = tuple[Any, ...]


@dataclass(frozen=True)
class InstrumentQuery:
    """A query in the store's terms: every name a stored class, every value checked.

    ``conditions`` are AND-ed, the members of each OR-ed (a group such as "guitar" or the
    ``--any`` set); a track with any of ``excluded`` present is left out. ``min_score``,
    ``min_coverage`` and ``role`` restrict the matched rows (with no condition: "some
    instrument"). ``formats`` are lower-case extensions without their dot, as scans store them.
    """

    conditions: list[list[str]] = field(default_factory=list)
    excluded: list[str] = field(default_factory=list)
    min_score: float | None = None
    min_coverage: float | None = None
    role: str | None = None
    status: str | None = "ok"
    path_glob: str | None = None
    path_contains: str | None = None
    formats: list[str] = field(default_factory=list)
    limit: int | None = None


def _in_list(column: str, values: Sequence[str], params: list[Any]) -> str:
    params.extend(values)
    return f"{column} IN ({', '.join('?' * len(values))})"


def _row_filters(alias: str, query: InstrumentQuery, params: list[Any]) -> str:
    """Conditions a matched instrument row must meet: present, plus score/coverage/role."""
    parts = [f"{alias}.coverage > 0"]
    for column, op, value in (("score", ">=", query.min_score),
                              ("coverage", ">=", query.min_coverage),
                              ("role", "=", query.role)):
        if value is not None:
            parts.append(f"{alias}.{column} {op} ?")
            params.append(value)
    return " AND ".join(parts)


def _track_filters(query: InstrumentQuery, params: list[Any]) -> list[str]:
    """Conditions on the ``tracks`` row (alias ``t``): status, path, format, ``--not``."""
    where: list[str] = []
    if query.status is not None:
        where.append("t.status = ?")
        params.append(query.status)
    if query.path_glob:
        where.append("t.path GLOB ?")
        params.append(query.path_glob)
    if query.path_contains:
        where.append("instr(lower(t.path), lower(?)) > 0")
        params.append(query.path_contains)
    formats = list(dict.fromkeys(query.formats))
    if formats:
        where.append(_in_list("t.format", formats, params))
    if query.excluded:
        cond = _in_list("n.instrument", list(dict.fromkeys(query.excluded)), params)
        where.append(f"NOT EXISTS (SELECT 1 FROM track_instruments n WHERE n.track_id = t.id"
                     f" AND {cond} AND n.coverage > 0)")
    return where


_COLUMNS = ("t.id, t.path, t.path_key, t.duration, t.format, t.model, t.status, t.error,"
            " ti.instrument, ti.score, ti.coverage, ti.role")


def instrument_query_sql(query: InstrumentQuery) -> tuple[str, list[Any]]:
    """The one statement answering ``query``, and its parameters.

    It returns one row per (track, matched instrument), best score first. Plans were chosen by
    measuring (benchmarks/bench_query.py):

    - one positive condition (a ``--has`` or the ``--any`` set): the ``track_instruments_lookup``
      index (instrument first) drives, then ``tracks`` by rowid. ``CROSS JOIN`` pins that order,
      because a store is never ANALYZEd and the planner otherwise walks every track;
    - several: the candidate ids are the ``INTERSECT`` of one index scan per condition (cost
      follows the sizes of the groups), then the matched rows come by primary-key probes;
    - ``--not`` is a ``NOT EXISTS`` primary-key probe per candidate;
    - no instrument condition: the tracks (limited in SQL, by path) with whatever they have
      present, ``None`` instrument columns for a track with nothing present.
    """
    conditions = [list(c) for c in query.conditions]
    asked = list(dict.fromkeys(c for cond in conditions for c in cond))
    filtered = any(v is not None for v in (query.min_score, query.min_coverage, query.role))

    params: list[Any] = []
    if not conditions and not filtered:
        where = _track_filters(query, params)
        inner = "SELECT * FROM tracks t" + (f" WHERE {' AND '.join(where)}" if where else "")
        inner += " ORDER BY t.path"
        if query.limit is not None:
            inner += " LIMIT ?"
            params.append(query.limit)
        sql = (f"SELECT {_COLUMNS} FROM ({inner}) t LEFT JOIN track_instruments ti"
               " ON ti.track_id = t.id AND ti.coverage > 0 ORDER BY t.path, ti.score DESC")
        return sql, params

    if len(conditions) <= 1:
        on = [] if not asked else [_in_list("ti.instrument", asked, params)]
        on.append(_row_filters("ti", query, params))
        source = "track_instruments ti CROSS JOIN tracks t ON t.id = ti.track_id"
        if not asked:  # filters only: let the planner pick (it scans either way)
            source = "track_instruments ti JOIN tracks t ON t.id = ti.track_id"
        where = on
    else:
        parts = []
        for cond in conditions:
            sub = _in_list("instrument", cond, params)
            parts.append(f"SELECT track_id FROM track_instruments x WHERE {sub}"
                         f" AND {_row_filters('x', query, params)}")
        on = [_in_list("ti.instrument", asked, params), _row_filters("ti", query, params)]
        source = (f"(SELECT track_id AS id FROM ({' INTERSECT '.join(parts)})) cand"
                  " CROSS JOIN tracks t ON t.id = cand.id"
                  f" CROSS JOIN track_instruments ti ON ti.track_id = t.id AND {' AND '.join(on)}")
        where = []
    where += _track_filters(query, params)
    sql = (f"SELECT {_COLUMNS} FROM {source}"
           + (f" WHERE {' AND '.join(where)}" if where else "")
           + " ORDER BY ti.score DESC, t.path")
    return sql, params


def instrument_query_rows(store: Store, query: InstrumentQuery) -> Iterator[QueryRow]:
    """The rows of :func:`instrument_query_sql`, streamed from one cursor.

    With conditions the ``limit`` is not in the SQL (it counts tracks, and a track's rows are
    spread over the score order): the caller drops the tracks past it.
    """
    sql, params = instrument_query_sql(query)
    yield from store.conn.execute(sql, params)
