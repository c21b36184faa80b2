"""What an ingest reports back: stored, duplicates, rejected, and why each rejection happened."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

MAX_REPORTED_ERRORS = 1000


@dataclass(frozen=True, slots=True)
class Rejection:
    """One reason one record was rejected, with where it was in the input."""

    line: int | None
    item: int | None
    field: str
    reason: str

    def __str__(self) -> str:
        where = f"line {self.line}" if self.line is not None else f"item {self.item}"
        return f"{where}: field '{self.field}': {self.reason}"

    def to_dict(self) -> dict[str, Any]:
        return {"line": self.line, "item": self.item, "field": self.field, "reason": self.reason}


@dataclass(slots=True)
class IngestSummary:
    """Counts for one ingest run; every rejected record is also in the dead-letter table."""

    kind: str
    source: str
    stored: int = 0
    duplicates: int = 0
    rejected: int = 0
    errors: list[Rejection] = field(default_factory=list)
    errors_omitted: int = 0

    def reject(self, rejection: Rejection) -> None:
        if len(self.errors) < MAX_REPORTED_ERRORS:
            self.errors.append(rejection)
        else:
            self.errors_omitted += 1

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "source": self.source,
            "stored": self.stored,
            "duplicates": self.duplicates,
            "rejected": self.rejected,
            "errors": [e.to_dict() for e in self.errors],
            "errors_omitted": self.errors_omitted,
        }
