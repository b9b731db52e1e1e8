"""The reserve of a conda package: where its removed files come back from.

The work is in ``lean_install.runtime.conda_reserve`` (standard library only: a stub in a
conda prefix restores with it inside the prefix's python): the package cache's extracted
tree, else its archive extracted with ``conda_package_handling``, every file checked
against the sha256 its record says it had in the prefix, nothing written before every
file of the package is in hand. Here, for ``conda lean restore``, what it cannot give back
is a ``RestoreError`` with its hint.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from lean_install.conda.records import PathEntry, PrefixRecord
from lean_install.errors import RestoreError
from lean_install.runtime import conda_reserve
from lean_install.runtime.conda_reserve import Original, place, replace_placeholder

__all__ = ["Original", "originals", "place", "replace_placeholder"]


def originals(
    record: PrefixRecord, paths: Sequence[str], entries: Mapping[str, PathEntry]
) -> list[Original]:
    """The original of every one of ``paths`` (prefix-relative; ``entries``: the record's
    entries before the strip), intact, or a RestoreError naming what is missing."""
    try:
        return conda_reserve.originals(record, paths, entries)
    except conda_reserve.NotInCache as exc:
        raise RestoreError(exc.message, hint=exc.hint) from None
