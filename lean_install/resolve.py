"""Resolution: ask the target's own pip what it would install, reading metadata only.

Runs ``python -m pip install --dry-run --ignore-installed --report -`` with the user's
requirements and pip options, and turns pip's installation report into a Resolution.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from packaging.utils import NormalizedName

__all__ = ["ResolvedDistribution", "Resolution"]


@dataclass(frozen=True, kw_only=True)
class ResolvedDistribution:
    """One distribution pip would install, as its report describes it."""

    name: NormalizedName
    version: str
    url: str
    """Where pip found the file (``https://...`` or ``file:///...``)."""
    filename: str
    sha256: str | None
    """The hash pip's report gives for the file (None if the index gave none)."""
    requested: bool
    """Named on the command line (or in a -r file), not only pulled in as a dependency."""
    requested_extras: tuple[str, ...] = ()
    requires_dist: tuple[str, ...] = ()
    provides_extra: tuple[str, ...] = ()

    @property
    def is_wheel(self) -> bool:
        return self.filename.endswith(".whl")


@dataclass(frozen=True, kw_only=True)
class Resolution:
    distributions: tuple[ResolvedDistribution, ...]
    marker_environment: dict[str, str] = field(default_factory=dict)
    """pip's report ``environment``: the marker values of the target interpreter."""
