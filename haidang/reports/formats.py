"""Which file format a report or letter is written in: the format asked for, else the output file's extension.

Checked before anything is built or written, so a Word file never lands in a name ending .xlsx.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

__all__ = ["output_format"]


def output_format(path: Path | None, asked: str | None, supported: Sequence[str]) -> str | None:
    """`asked` if given, else the extension of `path` (case ignored); None when neither says, so the
    caller keeps its default. Raises ValueError naming the file and the supported extensions when
    the extension is unsupported or contradicts `asked`: such a file would not open."""
    choices = ", ".join(f".{s}" for s in supported)
    if asked is not None and asked not in supported:
        raise ValueError(f"format {asked!r} is not supported; use one of: {', '.join(supported)}")
    if path is None:
        return asked
    ext = path.suffix.lower().lstrip(".")
    if ext not in supported:
        found = f"cannot write a .{ext} file" if ext else "the file name has no extension"
        raise ValueError(f"{path}: {found}; supported extensions: {choices}")
    if asked is not None and asked != ext:
        raise ValueError(f"{path}: extension .{ext} does not match format {asked!r}; "
                         f"name the file .{asked} or leave the format out (supported extensions: {choices})")
    return ext
