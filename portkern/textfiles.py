"""Whether a file's bytes can be source code: shared by ingest and the translator (kept apart from both,
so the translator does not import ingest to ask)."""

from __future__ import annotations

MAX_FILE_BYTES = 4 << 20


def not_source_code(data: bytes) -> str | None:
    """Why ``data`` cannot be source code (too large, binary), or None."""
    if len(data) > MAX_FILE_BYTES:
        return f"file larger than {MAX_FILE_BYTES >> 20} MiB: not source code"
    if b"\0" in data[:8192]:
        return "binary file (NUL bytes): not source code"
    return None
