"""Shared by the crawler tests: text encoded as Windows writes Vietnamese (windows-1258).

A plain module (not conftest) so tests import it by name, as tests/alerts/alerts_testkit.py.
"""

from __future__ import annotations

import unicodedata

__all__ = ["windows_1258"]

_TONE_MARKS = frozenset("\u0300\u0301\u0303\u0309\u0323")


def windows_1258(text: str) -> bytes:
    """Encode as Windows does: base letters precomposed (â, ơ, đ), tone marks as combining characters."""
    out = []
    for ch in unicodedata.normalize("NFC", text):
        marks = unicodedata.normalize("NFD", ch)
        out.append(unicodedata.normalize("NFC", "".join(c for c in marks if c not in _TONE_MARKS))
                   + "".join(c for c in marks if c in _TONE_MARKS))
    return "".join(out).encode("cp1258")
