"""Turn files, stdin and request bodies into numbered records: NDJSON or a JSON array."""

from __future__ import annotations

import gzip
import io
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import orjson

GZIP_MAGIC = b"\x1f\x8b"


class InputError(Exception):
    """The input as a whole could not be read (not a single record could be taken from it)."""


@dataclass(slots=True)
class RawRecord:
    """One record as read: where it was (line for NDJSON, item for a JSON array) and its text."""

    line: int | None
    item: int | None
    raw: bytes
    value: Any = None
    parse_error: str | None = None

    @property
    def where(self) -> str:
        return f"line {self.line}" if self.line is not None else f"item {self.item}"


class CountingReader(io.RawIOBase):
    """Wraps a binary stream and counts the bytes read, for progress bars over compressed files."""

    def __init__(self, inner: IO[bytes]) -> None:
        self.inner = inner
        self.bytes_read = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        readinto = getattr(self.inner, "readinto", None)
        if readinto is not None:  # straight into the buffer: the file is copied once, not twice
            n = int(readinto(buffer) or 0)
        else:
            data = self.inner.read(len(buffer))
            n = len(data)
            buffer[:n] = data
        self.bytes_read += n
        return n


def open_input(path: str) -> tuple[IO[bytes], CountingReader, int | None]:
    """Open `path` (or `-` for stdin), gunzipping by content; returns (stream, counter, size)."""
    if path == "-":
        raw: IO[bytes] = sys.stdin.buffer
        size = None
    else:
        file = Path(path)
        if not file.is_file():
            raise InputError(f"{path}: no such file")
        raw = file.open("rb")
        size = file.stat().st_size
    counter = CountingReader(raw)
    buffered = io.BufferedReader(counter, buffer_size=1 << 20)
    if buffered.peek(2)[:2] == GZIP_MAGIC:
        unzipped: IO[bytes] = gzip.GzipFile(fileobj=buffered, mode="rb")  # type: ignore[assignment]
        return unzipped, counter, size
    return buffered, counter, size


def iter_records(stream: IO[bytes]) -> Iterator[RawRecord]:
    """Yield records from NDJSON (one JSON value a line) or from one JSON array.

    This loop runs once per event on an import, so it does the least per line: one copy of
    the line (its text without the line break), which is also what orjson parses.
    """
    loads, decode_error = orjson.loads, orjson.JSONDecodeError
    first = b""
    for line_no, line in enumerate(stream, start=1):
        if not first:
            stripped = line.strip()
            if not stripped:
                continue
            first = stripped[:1]
            if first == b"[":
                yield from _iter_array(line + stream.read())
                return
        raw = line.rstrip(b"\r\n")
        if not raw or raw.isspace():  # bytes.isspace() knows the same whitespace as strip()
            continue
        try:
            value = loads(raw)
        except decode_error as exc:
            yield RawRecord(line_no, None, raw, None, f"not valid JSON: {exc}")
            continue
        yield RawRecord(line_no, None, raw, value)


def _iter_array(document: bytes) -> Iterator[RawRecord]:
    try:
        items = orjson.loads(document)
    except orjson.JSONDecodeError as exc:
        raise InputError(f"the JSON array could not be read: {exc}") from None
    if not isinstance(items, list):
        raise InputError("expected a JSON array or NDJSON")
    for index, value in enumerate(items, start=1):
        yield RawRecord(line=None, item=index, raw=orjson.dumps(value), value=value)


def decode_body(body: bytes, content_encoding: str | None, limit: int) -> bytes:
    """Undo gzip (by header or by content) and enforce the size limit on what comes out."""
    if (content_encoding or "").lower() == "gzip" or body[:2] == GZIP_MAGIC:
        try:
            with gzip.GzipFile(fileobj=io.BytesIO(body)) as unzipped:
                data = unzipped.read(limit + 1)
        except (OSError, EOFError) as exc:
            raise InputError(f"the body is not valid gzip: {exc}") from None
    else:
        data = body
    if len(data) > limit:
        raise InputError(f"the body is larger than {limit} bytes once decompressed")
    return data
