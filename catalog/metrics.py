"""Counters in the catalog: many workers add to them, any API process reads them."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite

from catalog.database import Database
from catalog.models import IngestMetric


def add_to_counters(db: Database, increments: Mapping[tuple[str, str], float]) -> None:
    """Add each `(series, field)`'s increment in one transaction, creating missing counters.

    Rows are written in key order, so two workers adding to the same counters on PostgreSQL wait
    for each other instead of deadlocking.
    """
    if not increments:
        return
    rows = [{"series": s, "field": f, "value": v} for (s, f), v in sorted(increments.items())]
    insert = sqlite.insert(IngestMetric) if db.is_sqlite else postgresql.insert(IngestMetric)
    upsert = insert.values(rows).on_conflict_do_update(
        index_elements=[IngestMetric.series, IngestMetric.field],
        set_={"value": IngestMetric.value + insert.excluded.value},
    )
    with db.write() as s:
        s.execute(upsert)


def read_counters(db: Database, series: Iterable[str]) -> dict[str, dict[str, float]]:
    """Every field of each series asked for ({} for a series nothing was added to yet)."""
    wanted = list(series)
    found: dict[str, dict[str, float]] = {name: {} for name in wanted}
    with db.read() as s:
        for name, field, value in s.execute(
            select(IngestMetric.series, IngestMetric.field, IngestMetric.value).where(IngestMetric.series.in_(wanted))
        ):
            found[name][field] = float(value)
    return found
