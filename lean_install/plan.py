"""The plan: for each resolved distribution, keep, strip (with the files to drop), stub or omit.

The plan is the single source of truth for what is dropped: strip, install, lock and
report read it and never re-derive it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, cast

from packaging.utils import NormalizedName, canonicalize_name

__all__ = [
    "Decision",
    "Policy",
    "DistributionPlan",
    "Plan",
    "WheelListing",
]

Decision = Literal["keep", "strip", "stub", "omit"]
Policy = Literal["profile", "safe"]


@dataclass(frozen=True, kw_only=True)
class DistributionPlan:
    """The decision for one distribution and everything needed to carry it out."""

    name: NormalizedName
    version: str
    """The resolved (original) version."""
    decision: Decision
    reason: str
    drop: tuple[str, ...] = ()
    """Paths (as the original wheel's RECORD writes them) left out of the stripped wheel."""
    stub_modules: tuple[str, ...] = ()
    """Dotted names of removed modules and packages that get a stub in their place."""
    notes: tuple[str, ...] = ()
    bytes_installed: int = 0
    """Uncompressed bytes of the original wheel's files (0 if unknown: not fetched)."""
    bytes_saved: int = 0
    profile_label: str = ""
    """How stubs name the profile (its file name, or a bundled profile's name)."""
    profile_digest: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "drop", tuple(sorted(set(self.drop))))
        object.__setattr__(self, "stub_modules", tuple(sorted(set(self.stub_modules))))

    def digest(self) -> str:
        """Short digest of everything that goes into the stripped wheel besides the original."""
        canon = json.dumps(
            [
                self.name,
                self.version,
                self.decision,
                self.drop,
                self.stub_modules,
                self.profile_label,
                self.profile_digest,
            ]
        )
        return hashlib.sha256(canon.encode()).hexdigest()[:12]

    @property
    def lean_version(self) -> str:
        """The version of the stripped wheel: the original plus ``lean.<digest>`` as local label."""
        if self.decision == "keep":
            return self.version
        sep = "." if "+" in self.version else "+"
        return f"{self.version}{sep}lean.{self.digest()}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "decision": self.decision,
            "reason": self.reason,
            "drop": list(self.drop),
            "stub-modules": list(self.stub_modules),
            "notes": list(self.notes),
            "bytes-installed": self.bytes_installed,
            "bytes-saved": self.bytes_saved,
            "profile-label": self.profile_label,
            "profile-digest": self.profile_digest,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DistributionPlan:
        return cls(
            name=canonicalize_name(str(data["name"])),
            version=str(data["version"]),
            decision=cast(Decision, data["decision"]),
            reason=str(data.get("reason", "")),
            drop=tuple(data.get("drop", ())),
            stub_modules=tuple(data.get("stub-modules", ())),
            notes=tuple(data.get("notes", ())),
            bytes_installed=int(data.get("bytes-installed", 0)),
            bytes_saved=int(data.get("bytes-saved", 0)),
            profile_label=str(data.get("profile-label", "")),
            profile_digest=str(data.get("profile-digest", "")),
        )


@dataclass(frozen=True, kw_only=True)
class Plan:
    """The plan for a whole resolved environment."""

    policy: Policy
    profile_label: str = ""
    profile_digest: str = ""
    distributions: tuple[DistributionPlan, ...] = ()

    @property
    def bytes_installed(self) -> int:
        return sum(d.bytes_installed for d in self.distributions)

    @property
    def bytes_saved(self) -> int:
        return sum(d.bytes_saved for d in self.distributions)

    def get(self, name: str) -> DistributionPlan | None:
        key = canonicalize_name(name)
        return next((d for d in self.distributions if d.name == key), None)

    def to_dict(self) -> dict[str, Any]:
        return {
            "policy": self.policy,
            "profile-label": self.profile_label,
            "profile-digest": self.profile_digest,
            "bytes-installed": self.bytes_installed,
            "bytes-saved": self.bytes_saved,
            "distributions": [d.to_dict() for d in self.distributions],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Plan:
        return cls(
            policy=cast(Policy, data["policy"]),
            profile_label=str(data.get("profile-label", "")),
            profile_digest=str(data.get("profile-digest", "")),
            distributions=tuple(DistributionPlan.from_dict(d) for d in data["distributions"]),
        )


@dataclass(frozen=True, kw_only=True)
class WheelListing:
    """What planning needs to know of a wheel's contents, without its bytes."""

    dist_info: str
    """The ``.dist-info`` directory name inside the wheel."""
    members: Mapping[str, int]
    """Every file path (as RECORD writes it) and its uncompressed size."""
    needed: Mapping[str, tuple[str, ...]]
    """For each ELF shared object member, its DT_NEEDED sonames."""
    entry_points: str = ""
    """The text of ``entry_points.txt`` (empty if none)."""
