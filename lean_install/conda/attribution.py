"""Attribution in a conda prefix: which conda package a file belongs to.

The tracer sees absolute paths. In a conda prefix, a path listed in some
``conda-meta/*.json`` record's ``files`` belongs to that package, and becomes part of a
``kind = "conda"`` usage (paths relative to the prefix, as ``files`` writes them). Files
that no record lists (a distribution ``pip`` installed into the prefix) are left to the
wheel side, which finds them in their ``.dist-info/RECORD``.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field

from packaging.utils import NormalizedName, canonicalize_name

from lean_install.conda.records import PrefixRecord, is_conda_prefix, read_prefix
from lean_install.profile import DistributionUsage, Listing
from lean_install.runtime import layout

__all__ = ["PrefixIndex", "CondaAttribution", "listing_of"]


@dataclass
class PrefixIndex:
    """Every file of a conda prefix's records, by normalized absolute path."""

    prefix: str
    records: tuple[PrefixRecord, ...]
    owners: dict[str, tuple[PrefixRecord, str]] = field(default_factory=dict)

    @classmethod
    def of(cls, prefix: str | os.PathLike[str]) -> PrefixIndex:
        """The index of ``prefix`` (a CondaPrefixError if it is not a conda prefix)."""
        root = os.path.normpath(os.path.abspath(os.fspath(prefix)))
        index = cls(root, read_prefix(root))
        for record in index.records:
            for path in record.files:
                index.owners.setdefault(os.path.normpath(os.path.join(root, path)), (record, path))
        return index

    def owner(self, path: str) -> tuple[PrefixRecord, str] | None:
        """The record that installed ``path`` (absolute) and its prefix-relative path."""
        normal = os.path.normpath(path)
        found = self.owners.get(normal)
        if found is None and not os.path.islink(normal):
            real = os.path.realpath(normal)
            if real != normal:
                found = self.owners.get(real)
        return found


def listing_of(record: PrefixRecord) -> Listing:
    """Every file of a package, for a profile: its ``files`` but bytecode."""
    return Listing.of(p for p in record.files if "__pycache__/" not in p)


@dataclass
class _Usage:
    record: PrefixRecord
    files: set[str] = field(default_factory=set)
    probed: set[str] = field(default_factory=set)


@dataclass
class CondaAttribution:
    """Collects the paths of a trace that belong to conda packages of conda prefixes."""

    indexes: list[PrefixIndex]
    _usage: dict[str, _Usage] = field(default_factory=dict)

    @classmethod
    def for_prefixes(cls, prefixes: Iterable[str | os.PathLike[str]]) -> CondaAttribution:
        """The attribution for the conda prefixes among ``prefixes`` (others are skipped)."""
        seen: list[PrefixIndex] = []
        for prefix in prefixes:
            if is_conda_prefix(prefix) and all(i.prefix != os.fspath(prefix) for i in seen):
                seen.append(PrefixIndex.of(prefix))
        return cls(seen)

    def add(self, path: str, loaded: bool) -> bool:
        """Count ``path`` for the conda package that owns it; whether one does."""
        for index in self.indexes:
            found = index.owner(path)
            if found is None:
                continue
            record, relative = found
            usage = self._usage.setdefault(str(record.source), _Usage(record))
            (usage.files if loaded else usage.probed).add(relative)
            source = layout.source_of_bytecode(relative) if loaded else None
            if source is not None and source in record.files:
                usage.files.add(source)
            return True
        return False

    def usages(self) -> list[DistributionUsage]:
        """One ``kind = "conda"`` usage per package a path was counted for."""
        return [
            DistributionUsage(
                name=NormalizedName(canonicalize_name(u.record.name)),
                version=u.record.version,
                kind="conda",
                build=u.record.build,
                channel=u.record.channel,
                subdir=u.record.subdir,
                files=tuple(u.files),
                probed=tuple(u.probed),
                listing=listing_of(u.record),
            )
            for u in self._usage.values()
        ]
