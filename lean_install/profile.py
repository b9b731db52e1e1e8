"""The usage profile: what workloads used, per distribution, as a versioned TOML file.

A profile holds the traces that made it (command, result, environment, who and when,
whether a GPU was used) and, per distribution (normalized name, exact version), the
files it *loaded* (imported, opened, mapped, executed), the files only *probed*
(existence checked, directory listed), as paths relative to the install root the way
RECORD writes them, and the *listing*: every file the distribution had, compactly, so a
profile applied to another release can tell a file that is new there (kept) from one
the workload did not use (removable). See ``docs/profile-format.md``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal, cast, get_args

import tomli_w
from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import InvalidVersion, Version

from lean_install.errors import Issue, ProfileError
from lean_install.runtime.tables import Table, too_deep

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

__all__ = [
    "PROFILE_VERSION",
    "READS_VERSIONS",
    "MAX_PROFILE_BYTES",
    "PrefixKind",
    "PackageKind",
    "TraceEnvironment",
    "Trace",
    "Listing",
    "DistributionUsage",
    "Profile",
    "check_relative_path",
    "merge_profiles",
]

PROFILE_VERSION = 2
READS_VERSIONS = (1, 2)
"""Version 1 has no listings and no GPU flag; it reads as a version 2 profile without them."""
MAX_PROFILE_BYTES = 64 * 1024 * 1024
"""Profiles larger than this are refused: the torch training profile is about 300 KB."""
_MAX_DEPTH = 32

PrefixKind = Literal["venv", "conda", "system"]
PackageKind = Literal["wheel", "conda"]
Backend = Literal["python", "strace"]
Status = Literal["passed", "failed"]


def _is_version(text: str) -> bool:
    try:
        Version(text)
    except InvalidVersion:
        return False
    return True


def _version_key(version: str) -> tuple[bool, Version, str]:
    """Sort by PEP 440 order, then by spelling (``1.0`` and ``1.0.0`` are equal versions);
    versions that are not PEP 440 (conda's ``1.1.1w``) after them, by spelling."""
    try:
        return False, Version(version), version
    except InvalidVersion:
        return True, Version("0"), version


def _too_big() -> Issue:
    limit, mib = MAX_PROFILE_BYTES, 1024 * 1024
    shown = f"{limit // mib} MiB" if limit % mib == 0 else f"{limit:,} bytes"
    return Issue("", f"larger than the limit of {shown}")


def check_relative_path(path: str) -> str | None:
    """Why ``path`` is not a safe path relative to the install root, or None if it is."""
    if not path:
        return "empty path"
    if "\0" in path or "\\" in path:
        return f"{path!r} contains a NUL or a backslash"
    if path.startswith("/") or (len(path) > 1 and path[1] == ":"):
        return f"{path!r} is absolute; paths are relative to the install root"
    if any(part in ("..", ".", "") for part in path.split("/")):
        return f"{path!r} climbs out of the install root or is not normalized"
    return None


@dataclass(frozen=True, kw_only=True)
class TraceEnvironment:
    """Where a trace ran: interpreter version, platform, and the kind of prefix."""

    python: str
    implementation: str = "cpython"
    platform: str
    prefix_kind: PrefixKind = "venv"

    @classmethod
    def from_table(cls, t: Table) -> TraceEnvironment:
        t.unknown_keys(("python", "implementation", "platform", "prefix-kind"))
        return cls(
            python=t.get("python", str),
            implementation=t.get("implementation", str, "cpython"),
            platform=t.get("platform", str),
            prefix_kind=cast(PrefixKind, t.choice("prefix-kind", get_args(PrefixKind))),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "python": self.python,
            "implementation": self.implementation,
            "platform": self.platform,
            "prefix-kind": self.prefix_kind,
        }


_TRACE_KEYS = (
    "command",
    "status",
    "exit-code",
    "backend",
    "created",
    "tool",
    "user",
    "processes",
    "outside-files",
    "gpu",
    "environment",
)
_DISTRIBUTION_KEYS = (
    "name",
    "version",
    "kind",
    "build",
    "channel",
    "subdir",
    "also-seen",
    "scripts",
    "files",
    "probed",
    "listing",
)


@dataclass(frozen=True, kw_only=True)
class Trace:
    """One run of a workload under observation."""

    command: tuple[str, ...]
    exit_code: int
    backend: Backend = "python"
    created: str
    tool: str
    user: str = ""
    processes: int = 0
    outside_files: int = 0
    """Files the workload used outside any distribution (standard library, its own code)."""
    gpu: bool = False
    """Whether the workload used a GPU: the CUDA driver library was mapped."""
    environment: TraceEnvironment

    @property
    def status(self) -> Status:
        return "passed" if self.exit_code == 0 else "failed"

    @classmethod
    def from_table(cls, t: Table) -> Trace:
        t.unknown_keys(_TRACE_KEYS)
        status = t.data.get("status")
        t.choice("status", get_args(Status))
        trace = cls(
            command=t.strings("command"),
            exit_code=t.get("exit-code", int),
            backend=cast(Backend, t.choice("backend", get_args(Backend))),
            created=t.get("created", str),
            tool=t.get("tool", str),
            user=t.get("user", str, ""),
            processes=t.get("processes", int, 0),
            outside_files=t.get("outside-files", int, 0),
            gpu=t.get("gpu", bool, False),
            environment=TraceEnvironment.from_table(t.table("environment")),
        )
        if not trace.command:
            t.problem("command", "the workload command is empty")
        exit_code_read = isinstance(t.data.get("exit-code"), int)
        if status in get_args(Status) and exit_code_read and status != trace.status:
            t.problem("status", f"says {status!r} but exit-code is {trace.exit_code}")
        return trace

    def to_dict(self) -> dict[str, Any]:
        return {
            "command": list(self.command),
            "status": self.status,
            "exit-code": self.exit_code,
            "backend": self.backend,
            "created": self.created,
            "tool": self.tool,
            "user": self.user,
            "processes": self.processes,
            "outside-files": self.outside_files,
            "gpu": self.gpu,
            "environment": self.environment.to_dict(),
        }


_LISTING_HASH = "blake2b-40"
_DIGEST_SIZE = 5


def _path_digest(path: str) -> bytes:
    return hashlib.blake2b(path.encode("utf-8", "surrogatepass"), digest_size=_DIGEST_SIZE).digest()


@dataclass(frozen=True)
class Listing:
    """Every file a distribution had when it was traced, as 40-bit path digests.

    It answers one question: did this file exist in the traced release? A file of
    another release that the listing does not hold is new there, and is kept. 40 bits
    keep a false "it existed" for a new file below one in 10^7 for torch's 21,000 files.
    """

    digests: frozenset[bytes] = frozenset()

    @classmethod
    def of(cls, paths: Iterable[str]) -> Listing:
        return cls(frozenset(_path_digest(p) for p in paths))

    def __contains__(self, path: object) -> bool:
        return isinstance(path, str) and _path_digest(path) in self.digests

    def __bool__(self) -> bool:
        return bool(self.digests)

    def __len__(self) -> int:
        return len(self.digests)

    def __or__(self, other: Listing) -> Listing:
        return Listing(self.digests | other.digests)

    def to_dict(self) -> dict[str, Any]:
        packed = b"".join(sorted(self.digests))
        return {
            "hash": _LISTING_HASH,
            "files": len(self.digests),
            "digests": base64.b64encode(packed).decode(),
        }

    @classmethod
    def from_table(cls, t: Table) -> Listing:
        t.unknown_keys(("hash", "files", "digests"))
        if t.choice("hash", (_LISTING_HASH,)) != _LISTING_HASH:
            return cls()
        try:
            raw = base64.b64decode(t.get("digests", str), validate=True)
        except ValueError:
            t.problem("digests", "not base64")
            return cls()
        if len(raw) % _DIGEST_SIZE:
            t.problem("digests", f"not a whole number of {_DIGEST_SIZE}-byte digests")
            return cls()
        digests = frozenset(raw[i : i + _DIGEST_SIZE] for i in range(0, len(raw), _DIGEST_SIZE))
        if t.get("files", int, len(digests)) != len(digests):
            t.problem("files", f"says {t.data.get('files')} but the digests hold {len(digests)}")
        return cls(digests)


@dataclass(frozen=True, kw_only=True)
class DistributionUsage:
    """What the traced workloads used of one distribution (or conda package) at one version."""

    name: NormalizedName
    version: str
    kind: PackageKind = "wheel"
    build: str = ""
    """A conda package's build string (``py311h...``)."""
    channel: str = ""
    subdir: str = ""
    files: tuple[str, ...] = ()
    """Files loaded: imported, opened, mapped or executed."""
    probed: tuple[str, ...] = ()
    """Files only probed (existence checked, directory listed), never loaded."""
    scripts: tuple[str, ...] = ()
    """Console scripts and other executables of the distribution that were run."""
    also_seen: tuple[str, ...] = ()
    """Other versions of this distribution that the merged traces saw."""
    listing: Listing = field(default_factory=Listing)
    """Every file it had (empty in profiles of format 1)."""

    @property
    def used(self) -> bool:
        return bool(self.files or self.scripts)

    def __post_init__(self) -> None:
        files = tuple(sorted(set(self.files)))
        object.__setattr__(self, "files", files)
        object.__setattr__(self, "probed", tuple(sorted(set(self.probed) - set(files))))
        object.__setattr__(self, "scripts", tuple(sorted(set(self.scripts))))
        object.__setattr__(self, "also_seen", tuple(sorted(set(self.also_seen))))

    @classmethod
    def from_table(cls, t: Table) -> DistributionUsage:
        t.unknown_keys(_DISTRIBUTION_KEYS)
        name = t.get("name", str)
        if name and canonicalize_name(name) != name:
            t.problem("name", f"{name!r} is not normalized (expected {canonicalize_name(name)!r})")
        version = t.get("version", str)
        conda = t.data.get("kind") == "conda"  # conda versions need not be PEP 440
        if isinstance(t.data.get("version"), str) and not conda and not _is_version(version):
            t.problem("version", f"{version!r} is not a valid version")
        also_seen = t.strings("also-seen", ())
        for index, other in enumerate(also_seen):
            if not conda and not _is_version(other):
                t.issues.append(
                    Issue(f"{t.place('also-seen')}[{index}]", f"{other!r} is not a valid version")
                )
        lists = {key: t.strings(key, ()) for key in ("files", "probed")}
        for key, paths in lists.items():
            for index, path in enumerate(paths):
                why = check_relative_path(path)
                if why:
                    t.issues.append(Issue(f"{t.place(key)}[{index}]", why))
        listing = t.table("listing", required=False)
        return cls(
            name=NormalizedName(name),
            version=version,
            kind=cast(PackageKind, t.choice("kind", get_args(PackageKind), "wheel")),
            build=t.get("build", str, ""),
            channel=t.get("channel", str, ""),
            subdir=t.get("subdir", str, ""),
            files=lists["files"],
            probed=lists["probed"],
            scripts=t.strings("scripts", ()),
            also_seen=also_seen,
            listing=Listing.from_table(listing) if listing.data else Listing(),
        )

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "version": self.version}
        if self.kind != "wheel":
            out |= {
                "kind": self.kind,
                "build": self.build,
                "channel": self.channel,
                "subdir": self.subdir,
            }
        if self.also_seen:
            out["also-seen"] = list(self.also_seen)
        if self.scripts:
            out["scripts"] = list(self.scripts)
        out["files"] = list(self.files)
        out["probed"] = list(self.probed)
        if self.listing:
            out["listing"] = self.listing.to_dict()
        return out

    def merged(self, other: DistributionUsage) -> DistributionUsage:
        return replace(
            self,
            files=self.files + other.files,
            probed=self.probed + other.probed,
            scripts=self.scripts + other.scripts,
            also_seen=self.also_seen + other.also_seen,
            listing=self.listing | other.listing,
        )


@dataclass(frozen=True, kw_only=True)
class Profile:
    """A usage profile: the traces that made it and the union of what they used."""

    traces: tuple[Trace, ...] = ()
    distributions: tuple[DistributionUsage, ...] = field(default=())

    def __post_init__(self) -> None:
        ordered = tuple(sorted(self.distributions, key=lambda d: (d.name, _version_key(d.version))))
        object.__setattr__(self, "distributions", ordered)

    @property
    def uses_gpu(self) -> bool:
        """Whether any trace used a GPU."""
        return any(t.gpu for t in self.traces)

    # -- reading ---------------------------------------------------------------

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], source: str = "<profile>") -> Profile:
        """Validate ``data`` and build a profile; raise one ProfileError with every problem."""
        if not isinstance(data, Mapping):
            raise ProfileError(source, [Issue("", "expected a table")])
        if too_deep(data, _MAX_DEPTH):
            raise ProfileError(source, [Issue("", "nested too deeply")])
        top = Table(data)
        version = top.get("profile-version", int, what="an integer")
        if type(data.get("profile-version")) is int and version not in READS_VERSIONS:
            issue = Issue(
                "profile-version",
                f"unknown version {data['profile-version']!r}; "
                f"this lean-install reads versions {', '.join(map(str, READS_VERSIONS))}",
            )
            raise ProfileError(source, [issue])
        top.unknown_keys(("profile-version", "traces", "distributions"))
        traces = tuple(Trace.from_table(t) for t in top.tables("traces"))
        dists = tuple(DistributionUsage.from_table(t) for t in top.tables("distributions"))
        top.issues.extend(_duplicate_issues(dists))
        if top.issues:
            raise ProfileError(source, top.issues)
        return cls(traces=traces, distributions=dists)

    @classmethod
    def loads(cls, text: str, source: str = "<profile>") -> Profile:
        """Parse and validate the text of a profile; ``source`` names it in errors."""
        if len(text) > MAX_PROFILE_BYTES or (
            len(text) * 4 > MAX_PROFILE_BYTES
            and len(text.encode("utf-8", "surrogatepass")) > MAX_PROFILE_BYTES
        ):
            raise ProfileError(source, [_too_big()])
        try:
            data = tomllib.loads(text)
        except ValueError as exc:  # TOMLDecodeError, or an integer too long to convert
            problem = str(exc)
            if not isinstance(exc, tomllib.TOMLDecodeError):
                problem = problem.split(":", 1)[0]  # drop the hint about sys.set_int_max_str_digits
            problem = " ".join(problem.split())
            raise ProfileError(source, [Issue("", f"not valid TOML: {problem}")]) from None
        except RecursionError:
            raise ProfileError(source, [Issue("", "nested too deeply")]) from None
        return cls.from_dict(data, source)

    @classmethod
    def load(cls, path: Path | str) -> Profile:
        path = Path(path)
        try:
            with path.open("rb") as file:  # one byte past the limit at most (think /dev/zero)
                raw = file.read(MAX_PROFILE_BYTES + 1)
        except OSError as exc:
            raise ProfileError(str(path), [Issue("", exc.strerror or str(exc))]) from None
        if len(raw) > MAX_PROFILE_BYTES:
            raise ProfileError(str(path), [_too_big()])
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise ProfileError(str(path), [Issue("", "not UTF-8 text")]) from None
        return cls.loads(text, str(path))

    # -- writing ---------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        return {
            "profile-version": PROFILE_VERSION,
            "traces": [t.to_dict() for t in self.traces],
            "distributions": [d.to_dict() for d in self.distributions],
        }

    def dumps(self) -> str:
        header = "# lean-install usage profile; see docs/profile-format.md\n"
        return header + tomli_w.dumps(self.to_dict())

    def dump(self, path: Path | str) -> None:
        """Write atomically: a reader never sees half a profile."""
        from lean_install.runtime.layout import write_atomically

        write_atomically(path, self.dumps().encode())

    def to_json(self) -> dict[str, Any]:
        data = self.to_dict()
        for dist in data["distributions"]:
            dist.setdefault("also-seen", [])
            dist.setdefault("scripts", [])
        return data

    # -- using -----------------------------------------------------------------

    def usage_digest(self) -> str:
        """sha256 of what was used (not of who traced it when): same usage, same digest."""
        canon = json.dumps([d.to_dict() for d in self.distributions], sort_keys=True)
        return hashlib.sha256(canon.encode()).hexdigest()

    def find(self, name: str) -> list[DistributionUsage]:
        """Every entry for ``name`` (several when traces saw several versions)."""
        key = canonicalize_name(name)
        return [d for d in self.distributions if d.name == key]

    def merge(self, *others: Profile) -> Profile:
        """Union of traces and usage; one distribution at two versions keeps both, marked."""
        return merge_profiles([self, *others])


def _duplicate_issues(dists: Sequence[DistributionUsage]) -> list[Issue]:
    issues = []
    seen: dict[tuple[str, str], int] = {}
    versions: dict[str, set[str]] = {}
    for index, dist in enumerate(dists):
        key = (dist.name, dist.version)
        if key in seen:
            issues.append(
                Issue(
                    f"distributions[{index}]",
                    f"duplicate distribution {dist.name} {dist.version} "
                    f"(also at distributions[{seen[key]}])",
                )
            )
        seen.setdefault(key, index)
        versions.setdefault(dist.name, set()).add(dist.version)
    for index, dist in enumerate(dists):
        others = versions[dist.name] - {dist.version}
        if others - set(dist.also_seen):
            issues.append(
                Issue(
                    f"distributions[{index}]",
                    f"{dist.name} appears at versions {', '.join(sorted(others))} "
                    "too but its also-seen does not say so (a duplicate distribution?)",
                )
            )
    return issues


def merge_profiles(profiles: Iterable[Profile]) -> Profile:
    """Union of ``profiles``: traces once each (oldest first; ties keep their order),
    usage per (name, version).

    A file loaded in one profile and only probed in another ends up loaded. Each entry's
    ``also_seen`` is recomputed: the other versions of its name in the result.
    """
    traces: list[Trace] = []
    by_key: dict[tuple[str, str], DistributionUsage] = {}
    for profile in profiles:
        traces.extend(t for t in profile.traces if t not in traces)
        for dist in profile.distributions:
            key = (dist.name, dist.version)
            by_key[key] = by_key[key].merged(dist) if key in by_key else dist
    versions: dict[str, set[str]] = {}
    for name, version in by_key:
        versions.setdefault(name, set()).add(version)
    dists = [replace(d, also_seen=tuple(versions[d.name] - {d.version})) for d in by_key.values()]
    traces.sort(key=lambda t: t.created)
    return Profile(traces=tuple(traces), distributions=tuple(dists))
