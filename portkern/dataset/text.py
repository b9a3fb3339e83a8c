"""Source text normalisation shared by record building and export (comments and layout removed)."""

from __future__ import annotations

import re

_COMMENT = re.compile(r"//[^\n]*|/\*.*?\*/", re.S)
_TOKEN = re.compile(r"[A-Za-z_]\w*|\d+\.?\d*(?:[eE][-+]?\d+)?[fFuUlL]*|\S")


def normalize_source(code: str) -> str:
    """Comments removed and whitespace collapsed: two sources equal up to formatting normalise equal."""
    return " ".join(_TOKEN.findall(_COMMENT.sub(" ", code)))
