"""Any input gives a summary or a clear InputError, never a traceback, and the counts add up."""

from __future__ import annotations

import io
import tempfile
from pathlib import Path

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.settings import Settings
from bot.store import open_store
from bot.telemetry.ingest import ingest_cohort_assignments, ingest_events
from bot.telemetry.readers import InputError, iter_records
from tests.factories import assignment, event

_STORE_DIR = tempfile.mkdtemp(prefix="tierbot-prop-")
STORE = open_store(Settings(database_url=f"sqlite:///{Path(_STORE_DIR) / 'p.db'}"))

_json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False)
    | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=8,
)
_lines = st.one_of(
    st.binary(max_size=40).filter(lambda b: b"\n" not in b and b"\r" not in b),
    _json_values.map(orjson.dumps),
    st.integers(0, 10**6).map(lambda n: orjson.dumps(event(n))),
    st.integers(0, 100).map(lambda n: orjson.dumps(event(n, ts="2026-11-27T14:00:00"))),
    st.integers(0, 100).map(lambda n: orjson.dumps(assignment(f"c{n}"))),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_lines, max_size=12))
def test_any_input_is_summarised(lines: list[bytes]) -> None:
    data = b"\n".join(lines) + b"\n"
    for ingest in (ingest_events, ingest_cohort_assignments):
        try:
            records = list(iter_records(io.BytesIO(data)))
        except InputError as exc:  # only a broken JSON array as a whole is refused
            assert str(exc)
            assert data.lstrip().startswith(b"[")
            continue
        summary = ingest(STORE.engine, records, source="prop")
        assert summary.stored + summary.duplicates + summary.rejected == len(records)
        for rejection in summary.errors:
            assert rejection.reason and rejection.field
            assert (rejection.line or rejection.item or 0) >= 1
