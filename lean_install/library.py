"""A kept shared library made smaller inside: its fatbins pruned, its symbols stripped.

The one transform below the file level, used where lean wheels are built (``strip``) and
where a conda prefix is stripped or packed (``conda.strip``, ``conda.pack``). Each step is
verified on its own (``fatbin.prune``, ``symbols.strip``); one that cannot be done safely
leaves the library as it was, and ``shrink`` then returns None.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from lean_install import fatbin, symbols

__all__ = ["Shrunk", "shrink", "is_candidate"]

is_candidate = symbols.is_candidate


@dataclass(frozen=True)
class Shrunk:
    """A library's new bytes, with what each step took out."""

    data: bytes
    symbol_bytes: int = 0
    """Bytes of symbol tables and debug sections removed (the file is that much shorter)."""
    fatbin_bytes: int = 0
    """Bytes of GPU code zeroed in its fatbins (holes on disk; the size stays)."""


def shrink(data: bytes, *, symbols_too: bool, gpu_archs: Sequence[int] = ()) -> Shrunk | None:
    """``data`` with its fatbins keeping only ``gpu_archs``' code (when any are given) and
    without its symbol tables (when ``symbols_too``); None when nothing changed."""
    pruned = fatbin.prune(data, gpu_archs) if gpu_archs else None
    current = data if pruned is None else pruned.data
    stripped = symbols.strip(current) if symbols_too else None
    if pruned is None and stripped is None:
        return None
    return Shrunk(
        data=current if stripped is None else stripped.data,
        symbol_bytes=0 if stripped is None else stripped.saved(current),
        fatbin_bytes=0 if pruned is None else pruned.freed,
    )
