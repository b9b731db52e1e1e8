"""The bloat report of an environment, as data: per distribution and per category, what is
installed, what a usage profile used and what it never touched, what no program needs
(removable) and what a lean install left out (removed). ``measure.build_report`` measures
one on disk; ``text`` and ``html`` render it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from lean_install.classify import CATEGORIES, Category

__all__ = [
    "REPORT_VERSION",
    "Category",
    "CATEGORIES",
    "BloatBasis",
    "Removal",
    "CategoryUsage",
    "DistributionReport",
    "Unowned",
    "Totals",
    "ReportEnvironment",
    "Report",
]

REPORT_VERSION = 2

BloatBasis = Literal["profile", "categories"]


def _share(part: int, whole: int) -> float:
    return part / whole if whole else 0.0


# -- the report's types ---------------------------------------------------------------


class _Counts:
    """What is derived from files and bytes installed and used (a mixin: no fields)."""

    files: int
    bytes: int
    used_files: int
    used_bytes: int

    @property
    def unused_files(self) -> int:
        return self.files - self.used_files

    @property
    def unused_bytes(self) -> int:
        return self.bytes - self.used_bytes

    @property
    def unused_share(self) -> float:
        return _share(self.unused_bytes, self.bytes)


@dataclass(frozen=True)
class CategoryUsage(_Counts):
    """Files and bytes installed in one category, and how many of them were used."""

    files: int = 0
    bytes: int = 0
    used_files: int = 0
    used_bytes: int = 0

    def __add__(self, other: CategoryUsage) -> CategoryUsage:
        return CategoryUsage(
            self.files + other.files,
            self.bytes + other.bytes,
            self.used_files + other.used_files,
            self.used_bytes + other.used_bytes,
        )

    def to_dict(self, *, with_usage: bool = True) -> dict[str, Any]:
        return _counts_dict(self.files, self.bytes, self.used_files, self.used_bytes, with_usage)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CategoryUsage:
        return cls(
            int(data["files"]),
            int(data["bytes"]),
            int(data.get("used-files", 0)),
            int(data.get("used-bytes", 0)),
        )


def _counts_dict(
    files: int, size: int, used_files: int, used_bytes: int, with_usage: bool
) -> dict[str, Any]:
    out: dict[str, Any] = {"files": files, "bytes": size}
    if with_usage:
        out |= {
            "used-files": used_files,
            "used-bytes": used_bytes,
            "unused-files": files - used_files,
            "unused-bytes": size - used_bytes,
            "unused-share": round(_share(size - used_bytes, size), 6),
        }
    return out


def _categories_dict(
    categories: Mapping[Category, CategoryUsage], with_usage: bool
) -> dict[str, Any]:
    return {c: categories[c].to_dict(with_usage=with_usage) for c in CATEGORIES if c in categories}


def _categories_from(data: Mapping[str, Any]) -> dict[Category, CategoryUsage]:
    return {c: CategoryUsage.from_dict(data[c]) for c in CATEGORIES if c in data}


def _sum_categories(
    many: Iterable[Mapping[Category, CategoryUsage]],
) -> dict[Category, CategoryUsage]:
    out: dict[Category, CategoryUsage] = {}
    for categories in many:
        for category, usage in categories.items():
            out[category] = out.get(category, CategoryUsage()) + usage
    return {c: out[c] for c in CATEGORIES if c in out}


@dataclass(frozen=True, kw_only=True)
class Removal:
    """What a lean install left out of one distribution, as its manifest records it, less
    what the reserve has restored since."""

    decision: str
    """``strip`` or ``stub``. A stub's original was never downloaded: its size is unknown."""
    files: int
    bytes: int
    categories: dict[Category, int]
    """Removed bytes per category."""
    profile: str
    symbols: int = 0
    """Of ``bytes``: the symbol tables removed from libraries that were kept."""
    fatbins: int = 0
    """Of ``bytes``: the other GPUs' code zeroed in the fatbins of libraries kept."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "decision": self.decision,
            "files": self.files,
            "bytes": self.bytes,
            "categories": dict(self.categories),
            "profile": self.profile,
            "symbols": self.symbols,
            "fatbins": self.fatbins,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Removal:
        categories = data.get("categories", {})
        return cls(
            decision=str(data["decision"]),
            files=int(data["files"]),
            bytes=int(data["bytes"]),
            profile=str(data.get("profile", "")),
            categories={c: int(categories[c]) for c in CATEGORIES if c in categories},
            symbols=int(data.get("symbols", 0)),
            fatbins=int(data.get("fatbins", 0)),
        )


@dataclass(frozen=True, kw_only=True)
class DistributionReport(_Counts):
    """One distribution: its files on disk, by category, and what of them was used."""

    name: str
    version: str
    files: int
    bytes: int
    used_files: int = 0
    used_bytes: int = 0
    categories: dict[Category, CategoryUsage] = field(default_factory=dict)
    profile_version: str | None = None
    """The version the profile saw, when it differs from the installed one."""
    missing: int = 0
    """RECORD entries whose file is not on disk (not counted anywhere else)."""
    removable_files: int = 0
    removable_bytes: int = 0
    """What ``--policy safe`` would drop (``classify``): what no program needs to run."""
    removable_categories: tuple[Category, ...] = ()
    """The categories whose files are removable in this distribution."""
    removed: Removal | None = None
    """What a lean install left out (and the reserve has not brought back since)."""

    def to_dict(self, *, with_usage: bool = True) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "version": self.version}
        if with_usage:
            out["profile-version"] = self.profile_version
        out |= _counts_dict(self.files, self.bytes, self.used_files, self.used_bytes, with_usage)
        out["missing"] = self.missing
        out["removable-files"] = self.removable_files
        out["removable-bytes"] = self.removable_bytes
        out["removable-categories"] = list(self.removable_categories)
        out["removed"] = self.removed.to_dict() if self.removed else None
        out["categories"] = _categories_dict(self.categories, with_usage)
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DistributionReport:
        return cls(
            name=str(data["name"]),
            version=str(data["version"]),
            files=int(data["files"]),
            bytes=int(data["bytes"]),
            used_files=int(data.get("used-files", 0)),
            used_bytes=int(data.get("used-bytes", 0)),
            categories=_categories_from(data.get("categories", {})),
            profile_version=data.get("profile-version"),
            missing=int(data.get("missing", 0)),
            removable_files=int(data.get("removable-files", 0)),
            removable_bytes=int(data.get("removable-bytes", 0)),
            removable_categories=tuple(
                c for c in CATEGORIES if c in data.get("removable-categories", ())
            ),
            removed=Removal.from_dict(data["removed"]) if data.get("removed") else None,
        )


@dataclass(frozen=True, kw_only=True)
class Unowned:
    """Files under site-packages that no distribution claims (stray ``__pycache__``,
    leftovers of uninstalled packages, ``.pth`` files of legacy installs)."""

    files: int = 0
    bytes: int = 0
    categories: dict[Category, CategoryUsage] = field(default_factory=dict)
    paths: tuple[str, ...] = ()
    """Their absolute paths, sorted."""
    removable_bytes: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "files": self.files,
            "bytes": self.bytes,
            "removable-bytes": self.removable_bytes,
            "categories": _categories_dict(self.categories, False),
            "paths": list(self.paths),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Unowned:
        return cls(
            files=int(data["files"]),
            bytes=int(data["bytes"]),
            categories=_categories_from(data.get("categories", {})),
            paths=tuple(str(p) for p in data.get("paths", ())),
            removable_bytes=int(data.get("removable-bytes", 0)),
        )


@dataclass(frozen=True, kw_only=True)
class Totals(_Counts):
    """The whole environment: every distribution plus the unowned files."""

    files: int
    bytes: int
    used_files: int
    used_bytes: int
    missing: int
    categories: dict[Category, CategoryUsage]


@dataclass(frozen=True, kw_only=True)
class ReportEnvironment:
    """Which environment a report describes."""

    python: str
    executable: str
    prefix: str
    site_packages: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "python": self.python,
            "executable": self.executable,
            "prefix": self.prefix,
            "site-packages": list(self.site_packages),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ReportEnvironment:
        return cls(
            python=str(data["python"]),
            executable=str(data["executable"]),
            prefix=str(data["prefix"]),
            site_packages=tuple(str(p) for p in data["site-packages"]),
        )


@dataclass(frozen=True, kw_only=True)
class Report:
    """The bloat report of one environment, optionally measured against a profile.

    Without a profile nothing is known to be used: ``unused_bytes`` is None and the bloat
    is what no program needs to run: exactly what ``--policy safe`` removes (``classify``).
    With a profile the bloat is every byte the profile did not use, unowned files included
    (no profile can attribute them).
    """

    environment: ReportEnvironment
    distributions: tuple[DistributionReport, ...]
    unowned: Unowned
    has_profile: bool

    @property
    def totals(self) -> Totals:
        dists = self.distributions
        return Totals(
            files=sum(d.files for d in dists) + self.unowned.files,
            bytes=sum(d.bytes for d in dists) + self.unowned.bytes,
            used_files=sum(d.used_files for d in dists),
            used_bytes=sum(d.used_bytes for d in dists),
            missing=sum(d.missing for d in dists),
            categories=_sum_categories([*(d.categories for d in dists), self.unowned.categories]),
        )

    @property
    def unused_bytes(self) -> int | None:
        return self.totals.unused_bytes if self.has_profile else None

    @property
    def bloat_basis(self) -> BloatBasis:
        return "profile" if self.has_profile else "categories"

    @property
    def bloat_bytes(self) -> int:
        totals = self.totals
        if self.has_profile:
            return totals.unused_bytes
        return sum(d.removable_bytes for d in self.distributions) + self.unowned.removable_bytes

    @property
    def removed_bytes(self) -> int:
        """What lean installs left out of this environment (manifests, less restored)."""
        return sum(d.removed.bytes for d in self.distributions if d.removed)

    @property
    def bloat_share(self) -> float:
        """Bloat bytes over installed bytes (unused over total, with a profile)."""
        return _share(self.bloat_bytes, self.totals.bytes)

    def to_dict(self) -> dict[str, Any]:
        totals = self.totals
        with_usage = self.has_profile
        totals_dict = _counts_dict(
            totals.files, totals.bytes, totals.used_files, totals.used_bytes, with_usage
        )
        totals_dict |= {
            "missing": totals.missing,
            "bloat-bytes": self.bloat_bytes,
            "bloat-share": round(self.bloat_share, 6),
            "bloat-basis": self.bloat_basis,
            "removed-bytes": self.removed_bytes,
            "categories": _categories_dict(totals.categories, with_usage),
        }
        return {
            "report-version": REPORT_VERSION,
            "environment": self.environment.to_dict(),
            "has-profile": self.has_profile,
            "totals": totals_dict,
            "distributions": [d.to_dict(with_usage=with_usage) for d in self.distributions],
            "unowned": self.unowned.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Report:
        return cls(
            environment=ReportEnvironment.from_dict(data["environment"]),
            distributions=tuple(DistributionReport.from_dict(d) for d in data["distributions"]),
            unowned=Unowned.from_dict(data["unowned"]),
            has_profile=bool(data["has-profile"]),
        )
