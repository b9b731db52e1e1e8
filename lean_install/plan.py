"""The plan: for each distribution of the resolved environment, one decision and everything
needed to carry it out. It is the single source of truth for what is dropped: the build,
install, lock, restore and report read it and never re-derive it.

Decisions (``Decision``):

- ``keep``: install the original as it is;
- ``strip``: install a stripped wheel, the original minus ``drop``, stubs for ``stub_modules``;
- ``stub``: install a metadata-only stand-in whose modules raise a clear error;
- ``omit``: install nothing (only extras nobody used need it);
- ``swap``: install a lighter build of the same release (the CPU build where the profile
  never used a GPU), itself stripped when ``drop`` says so.

``rule`` says how the profile was applied to the distribution (``Rule``).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, cast, get_args

from packaging.utils import NormalizedName, canonicalize_name

from lean_install.errors import Issue, PlanError, RecordError
from lean_install.fatbin import FORMAT as FATBIN_FORMAT
from lean_install.runtime.tables import Table
from lean_install.stubs import stub_digest
from lean_install.symbols import FORMAT as SYMBOLS_FORMAT

if TYPE_CHECKING:
    from lean_install.profile import Profile

__all__ = [
    "Decision",
    "DECISIONS",
    "Policy",
    "POLICIES",
    "choose_policy",
    "Rule",
    "RULES",
    "Source",
    "Swap",
    "DistributionPlan",
    "Plan",
    "original_version",
]

Decision = Literal["keep", "strip", "stub", "omit", "swap"]
DECISIONS: tuple[Decision, ...] = get_args(Decision)
Policy = Literal["profile", "safe"]
POLICIES: tuple[Policy, ...] = get_args(Policy)


def choose_policy(profile: Profile | None, requested: Policy | None) -> Policy:
    """The policy asked for, else ``profile`` with a profile and ``safe`` without."""
    policy: Policy = requested or ("profile" if profile else "safe")
    if policy == "profile" and profile is None:
        raise PlanError(
            "the profile policy needs a usage profile",
            hint="pass a profile made with `lean-install trace` (--profile), or "
            "use the safe policy",
        )
    return policy


Rule = Literal["exact", "listing", "modules", "safe", "needed", "none"]
RULES: tuple[Rule, ...] = get_args(Rule)
"""How the profile applied: ``exact`` (traced on this very version: what it did not use
goes), ``listing`` (traced on another release or build: what it did not use and that
existed there goes, files new here stay), ``modules`` (another version, no listing: only
what no program needs goes, and never a module it saw), ``safe`` (the safe policy: only
what no program needs goes), ``needed`` (never used, but kept libraries of other
distributions need some of its libraries: those stay, with what they need), ``none`` (not
planned file by file: kept whole, a stub, an omission, a pass-through)."""


def original_version(version: str) -> str:
    """``2.13.0+cpu.lean.ab12`` -> ``2.13.0+cpu``; ``1.0+lean.ab12`` -> ``1.0``."""
    head, sep, local = version.partition("+")
    if not sep:
        return version
    parts = local.split(".")
    if "lean" in parts:
        parts = parts[: parts.index("lean")]
    return f"{head}+{'.'.join(parts)}" if parts else head


@dataclass(frozen=True, kw_only=True)
class Source:
    """The file a decision is carried out from: a wheel or sdist, or what pip is given."""

    filename: str
    url: str
    sha256: str | None = None
    size: int | None = None
    archive: bool = True
    """False: a local directory or VCS checkout, handed to pip as it is (not leaned)."""

    @classmethod
    def from_table(cls, t: Table) -> Source:
        return cls(
            filename=t.get("filename", str),
            url=t.get("url", str),
            sha256=t.optional("sha256", str),
            size=t.optional("size", int),
            archive=t.get("archive", bool, True),
        )

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"filename": self.filename, "url": self.url, "sha256": self.sha256}
        if self.size is not None:
            out["size"] = self.size
        if not self.archive:
            out["archive"] = False
        return out


@dataclass(frozen=True, kw_only=True)
class Swap:
    """The build a ``swap`` replaced: its version, its file, and what leaving it costs not."""

    version: str
    source: Source
    bytes_avoided: int = 0
    """Bytes of the replaced build and of the distributions only it needed, installed."""
    download_avoided: int = 0
    """Bytes of their files, compressed: the download avoided."""
    dropped_dependencies: tuple[str, ...] = ()

    @classmethod
    def from_table(cls, t: Table) -> Swap:
        return cls(
            version=t.get("version", str),
            source=Source.from_table(t.table("source")),
            bytes_avoided=t.get("bytes-avoided", int, 0),
            download_avoided=t.get("download-avoided", int, 0),
            dropped_dependencies=t.strings("dropped-dependencies", ()),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "source": self.source.to_dict(),
            "bytes-avoided": self.bytes_avoided,
            "download-avoided": self.download_avoided,
            "dropped-dependencies": list(self.dropped_dependencies),
        }


@dataclass(frozen=True, kw_only=True)
class DistributionPlan:
    """The decision for one distribution and everything needed to carry it out."""

    name: NormalizedName
    version: str
    """The version installed, before any lean label (the variant's, for a swap)."""
    decision: Decision
    reason: str
    rule: Rule = "none"
    source: Source | None = None
    """The original file (None only for plans read from records that lack it)."""
    swap: Swap | None = None
    drop: tuple[str, ...] = ()
    """Paths (as the original wheel's RECORD writes them) left out of the stripped wheel."""
    stub_modules: tuple[str, ...] = ()
    """Dotted names of removed modules and packages that get a stub in their place."""
    notes: tuple[str, ...] = ()
    bytes_installed: int = 0
    """Uncompressed bytes of the original's files (0 if unknown: never fetched)."""
    bytes_saved: int = 0
    profile_label: str = ""
    """How stubs name the profile (its file name, or a bundled profile's name)."""
    profile_digest: str = ""
    bytecode: tuple[str, ...] | None = None
    """The sources (installed paths) to compile after installing: those whose bytecode
    the profile saw loaded. None: compile every source, as pip does. Not part of the
    digest: it does not change the wheel."""
    gpu_code: bool = False
    """GPU code under a profile that never used a GPU (``triton``, ``cuda-bindings``):
    importing it only asked whether a GPU is there, so its stubs say no in every on-miss
    mode instead of bringing gigabytes back; ``restore`` brings it back on request."""
    symbols: bool = False
    """The kept shared libraries of the rebuilt wheel lose their symbol tables and debug
    sections (``symbols.strip``, verified; a library that fails is kept whole)."""
    gpu_archs: tuple[int, ...] = ()
    """The GPU architectures (90 for sm_90) whose code the kept libraries' fatbins keep
    (``fatbin.prune``, verified; a library that fails is kept whole). Empty: all."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "drop", tuple(sorted(set(self.drop))))
        if self.bytecode is not None:
            object.__setattr__(self, "bytecode", tuple(sorted(set(self.bytecode))))
        object.__setattr__(self, "stub_modules", tuple(sorted(set(self.stub_modules))))

    @property
    def rebuilt(self) -> bool:
        """Whether a new wheel is built for it (a stripped wheel or a stub distribution)."""
        return self.decision == "stub" or (
            self.decision in ("strip", "swap")
            and bool(self.drop or self.stub_modules or self.gpu_archs)
        )

    @property
    def installed(self) -> bool:
        return self.decision != "omit"

    def digest(self) -> str:
        """Short digest of everything that goes into a rebuilt wheel besides the original:
        the plan, and the stubs' template and runtime when it has stubs."""
        runtime = stub_digest() if self.stub_modules or self.drop else ""
        canon = json.dumps(
            [
                self.name,
                self.version,
                self.decision,
                self.drop,
                self.stub_modules,
                self.profile_label,
                self.profile_digest,
                *([runtime] if runtime else []),
                *(["gpu-code"] if self.gpu_code else []),
                *([f"symbols-{SYMBOLS_FORMAT}"] if self.symbols else []),
                *([f"gpu-{FATBIN_FORMAT}-{self.gpu_archs}"] if self.gpu_archs else []),
            ]
        )
        return hashlib.sha256(canon.encode()).hexdigest()[:12]

    @property
    def lean_version(self) -> str:
        """The installed version: the original's, plus ``lean.<digest>`` if rebuilt."""
        if not self.rebuilt:
            return self.version
        sep = "." if "+" in self.version else "+"
        return f"{self.version}{sep}lean.{self.digest()}"

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name,
            "version": self.version,
            "decision": self.decision,
            "reason": self.reason,
            "rule": self.rule,
            "drop": list(self.drop),
            "stub-modules": list(self.stub_modules),
            "notes": list(self.notes),
            "bytes-installed": self.bytes_installed,
            "bytes-saved": self.bytes_saved,
            "profile-label": self.profile_label,
            "profile-digest": self.profile_digest,
        }
        if self.source is not None:
            out["source"] = self.source.to_dict()
        if self.swap is not None:
            out["swap"] = self.swap.to_dict()
        if self.bytecode is not None:
            out["bytecode"] = list(self.bytecode)
        if self.gpu_code:
            out["gpu-code"] = True
        if self.symbols:
            out["symbols"] = True
        if self.gpu_archs:
            out["gpu-archs"] = list(self.gpu_archs)
        return out

    @classmethod
    def from_table(cls, t: Table) -> DistributionPlan:
        source = t.optional("source", dict)
        swap = t.optional("swap", dict)
        bytecode = t.data.get("bytecode")
        return cls(
            name=canonicalize_name(t.get("name", str)),
            version=t.get("version", str),
            decision=cast(Decision, t.choice("decision", DECISIONS)),
            reason=t.get("reason", str, ""),
            rule=cast(Rule, t.choice("rule", RULES, "none")),
            source=None if source is None else Source.from_table(t.table("source")),
            swap=None if swap is None else Swap.from_table(t.table("swap")),
            drop=t.strings("drop", ()),
            stub_modules=t.strings("stub-modules", ()),
            notes=t.strings("notes", ()),
            bytes_installed=t.get("bytes-installed", int, 0),
            bytes_saved=t.get("bytes-saved", int, 0),
            profile_label=t.get("profile-label", str, ""),
            profile_digest=t.get("profile-digest", str, ""),
            bytecode=None if bytecode is None else t.strings("bytecode"),
            gpu_code=t.get("gpu-code", bool, False),
            symbols=t.get("symbols", bool, False),
            gpu_archs=_gpu_archs(t),
        )

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], source: str = "<plan>") -> DistributionPlan:
        """Read and validate; every problem in one RecordError."""
        t = Table(data)
        plan = cls.from_table(t)
        if t.issues:
            raise RecordError(source, t.issues)
        return plan


@dataclass(frozen=True, kw_only=True)
class Plan:
    """The plan for a whole resolved environment."""

    policy: Policy
    profile_label: str = ""
    profile_digest: str = ""
    distributions: tuple[DistributionPlan, ...] = ()
    markers: Mapping[str, str] = field(default_factory=dict)
    """The target's marker values, as the resolution used them."""
    notes: tuple[str, ...] = ()
    """What the whole plan should say (the profile chosen, a CPU build not found, ...)."""

    @property
    def bytes_installed(self) -> int:
        return sum(d.bytes_installed for d in self.distributions)

    @property
    def bytes_saved(self) -> int:
        return sum(d.bytes_saved for d in self.distributions)

    def get(self, name: str) -> DistributionPlan | None:
        key = canonicalize_name(name)
        return next((d for d in self.distributions if d.name == key), None)

    @property
    def installed(self) -> tuple[DistributionPlan, ...]:
        return tuple(d for d in self.distributions if d.installed)

    def counts(self) -> dict[Decision, int]:
        counts = dict.fromkeys(DECISIONS, 0)
        for d in self.distributions:
            counts[d.decision] += 1
        return counts

    def to_dict(self) -> dict[str, Any]:
        return {
            "policy": self.policy,
            "profile-label": self.profile_label,
            "profile-digest": self.profile_digest,
            "bytes-installed": self.bytes_installed,
            "bytes-saved": self.bytes_saved,
            "notes": list(self.notes),
            "markers": dict(self.markers),
            "distributions": [d.to_dict() for d in self.distributions],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], source: str = "<plan>") -> Plan:
        """Read and validate a plan; every problem in one RecordError."""
        t = Table(data if isinstance(data, Mapping) else {})
        if not isinstance(data, Mapping):
            t.issues.append(Issue("", "expected a table"))
        plan = cls(
            policy=cast(Policy, t.choice("policy", POLICIES)),
            profile_label=t.get("profile-label", str, ""),
            profile_digest=t.get("profile-digest", str, ""),
            notes=t.strings("notes", ()),
            markers=t.string_map("markers"),
            distributions=tuple(DistributionPlan.from_table(d) for d in t.tables("distributions")),
        )
        if t.issues:
            raise RecordError(source, t.issues)
        return plan


def _gpu_archs(t: Table) -> tuple[int, ...]:
    values = t.get("gpu-archs", list, [], what="a list of numbers")
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        t.problem("gpu-archs", "expected a list of numbers")
        return ()
    return tuple(values)
