"""The usage profile: what workloads used, per distribution, as a versioned TOML file.

A profile holds the traces that made it (command, result, environment, who and when)
and, per distribution (normalized name, exact version), the files it *loaded*
(imported, opened, mapped, executed) and the files only *probed* (existence checked,
directory listed), as paths relative to the install root, the way RECORD writes them.
See ``docs/profile-format.md``.
"""

from __future__ import annotations

import hashlib
import json
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal, cast

import tomli_w
from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import InvalidVersion, Version

from lean_install.errors import ProfileError, ProfileIssue

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

__all__ = [
    "PROFILE_VERSION",
    "MAX_PROFILE_BYTES",
    "TraceEnvironment",
    "Trace",
    "DistributionUsage",
    "Profile",
    "check_relative_path",
]

PROFILE_VERSION = 1
MAX_PROFILE_BYTES = 64 * 1024 * 1024
"""Profiles larger than this are refused: the torch training profile is about 200 KB."""

PrefixKind = Literal["venv", "conda", "system"]
Backend = Literal["python", "strace"]
Status = Literal["passed", "failed"]


class _Reader:
    """Typed access to one table of a parsed profile, collecting problems with their place."""

    def __init__(self, data: Mapping[str, Any], where: str, issues: list[ProfileIssue]) -> None:
        self.data = data
        self.where = where
        self.issues = issues

    def _place(self, key: str) -> str:
        return f"{self.where}.{key}" if self.where else key

    def problem(self, key: str, what: str) -> None:
        self.issues.append(ProfileIssue(self._place(key), what))

    def get(self, key: str, kind: type, default: Any = ..., *, what: str = "") -> Any:
        if key not in self.data:
            if default is ...:
                self.problem(key, "missing")
                return kind()
            return default
        value = self.data[key]
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            self.problem(key, f"expected {what or kind.__name__}, got {type(value).__name__}")
            return kind() if default is ... else default
        return value

    def strings(self, key: str, default: Any = ...) -> tuple[str, ...]:
        values = self.get(key, list, [] if default is ... else default, what="a list of strings")
        out = []
        for index, value in enumerate(values):
            if isinstance(value, str):
                out.append(value)
            else:
                self.issues.append(
                    ProfileIssue(f"{self._place(key)}[{index}]", "expected a string")
                )
        return tuple(out)

    def table(self, key: str) -> _Reader:
        return _Reader(self.get(key, dict, what="a table"), self._place(key), self.issues)

    def tables(self, key: str) -> list[_Reader]:
        readers = []
        for index, item in enumerate(self.get(key, list, [], what="an array of tables")):
            place = f"{self._place(key)}[{index}]"
            if isinstance(item, dict):
                readers.append(_Reader(item, place, self.issues))
            else:
                self.issues.append(ProfileIssue(place, "expected a table"))
        return readers

    def choice(self, key: str, choices: Sequence[str]) -> str:
        value = cast(str, self.get(key, str))
        if value and value not in choices:
            self.problem(key, f"{value!r} is not one of {', '.join(choices)}")
        return value or choices[0]


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
    def from_reader(cls, r: _Reader) -> TraceEnvironment:
        return cls(
            python=r.get("python", str),
            implementation=r.get("implementation", str, "cpython"),
            platform=r.get("platform", str),
            prefix_kind=cast(PrefixKind, r.choice("prefix-kind", ("venv", "conda", "system"))),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "python": self.python,
            "implementation": self.implementation,
            "platform": self.platform,
            "prefix-kind": self.prefix_kind,
        }


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
    environment: TraceEnvironment

    @property
    def status(self) -> Status:
        return "passed" if self.exit_code == 0 else "failed"

    @classmethod
    def from_reader(cls, r: _Reader) -> Trace:
        status = r.choice("status", ("passed", "failed"))
        trace = cls(
            command=r.strings("command"),
            exit_code=r.get("exit-code", int),
            backend=cast(Backend, r.choice("backend", ("python", "strace"))),
            created=r.get("created", str),
            tool=r.get("tool", str),
            user=r.get("user", str, ""),
            processes=r.get("processes", int, 0),
            outside_files=r.get("outside-files", int, 0),
            environment=TraceEnvironment.from_reader(r.table("environment")),
        )
        if not trace.command:
            r.problem("command", "the workload command is empty")
        if status != trace.status:
            r.problem("status", f"says {status!r} but exit-code is {trace.exit_code}")
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
            "environment": self.environment.to_dict(),
        }


@dataclass(frozen=True, kw_only=True)
class DistributionUsage:
    """What the traced workloads used of one distribution at one version."""

    name: NormalizedName
    version: str
    files: tuple[str, ...] = ()
    """Files loaded: imported, opened, mapped or executed."""
    probed: tuple[str, ...] = ()
    """Files only probed (existence checked, directory listed), never loaded."""
    scripts: tuple[str, ...] = ()
    """Console scripts and other executables of the distribution that were run."""
    also_seen: tuple[str, ...] = ()
    """Other versions of this distribution that the merged traces saw."""

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
    def from_reader(cls, r: _Reader) -> DistributionUsage:
        name = r.get("name", str)
        if name and canonicalize_name(name) != name:
            r.problem("name", f"{name!r} is not normalized (expected {canonicalize_name(name)!r})")
        version = r.get("version", str)
        try:
            Version(version)
        except InvalidVersion:
            r.problem("version", f"{version!r} is not a valid version")
        lists = {key: r.strings(key) for key in ("files", "probed")}
        for key, paths in lists.items():
            for index, path in enumerate(paths):
                why = check_relative_path(path)
                if why:
                    r.issues.append(ProfileIssue(f"{r.where}.{key}[{index}]", why))
        return cls(
            name=NormalizedName(name),
            version=version,
            files=lists["files"],
            probed=lists["probed"],
            scripts=r.strings("scripts"),
            also_seen=r.strings("also-seen"),
        )

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "version": self.version}
        if self.also_seen:
            out["also-seen"] = list(self.also_seen)
        if self.scripts:
            out["scripts"] = list(self.scripts)
        out["files"] = list(self.files)
        out["probed"] = list(self.probed)
        return out

    def merged(self, other: DistributionUsage) -> DistributionUsage:
        return replace(
            self,
            files=self.files + other.files,
            probed=self.probed + other.probed,
            scripts=self.scripts + other.scripts,
            also_seen=self.also_seen + other.also_seen,
        )


@dataclass(frozen=True, kw_only=True)
class Profile:
    """A usage profile: the traces that made it and the union of what they used."""

    traces: tuple[Trace, ...] = ()
    distributions: tuple[DistributionUsage, ...] = field(default=())

    def __post_init__(self) -> None:
        ordered = tuple(sorted(self.distributions, key=lambda d: (d.name, Version(d.version))))
        object.__setattr__(self, "distributions", ordered)

    # -- reading ---------------------------------------------------------------

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], source: str = "<profile>") -> Profile:
        """Validate ``data`` and build a profile; raise one ProfileError with every problem."""
        issues: list[ProfileIssue] = []
        top = _Reader(data, "", issues)
        version = top.get("profile-version", int, what="an integer")
        if "profile-version" in data and version != PROFILE_VERSION:
            issues.append(
                ProfileIssue(
                    "profile-version",
                    f"unknown version {data['profile-version']!r}; "
                    f"this lean-install reads version {PROFILE_VERSION}",
                )
            )
            raise ProfileError(source, issues)
        known = {"profile-version", "traces", "distributions"}
        for key in sorted(set(data) - known):
            issues.append(ProfileIssue(key, "unknown key"))
        traces = tuple(Trace.from_reader(r) for r in top.tables("traces"))
        dists = tuple(DistributionUsage.from_reader(r) for r in top.tables("distributions"))
        issues.extend(_duplicate_issues(dists))
        if issues:
            raise ProfileError(source, issues)
        return cls(traces=traces, distributions=dists)

    @classmethod
    def loads(cls, text: str, source: str = "<profile>") -> Profile:
        if len(text) > MAX_PROFILE_BYTES:
            raise ProfileError(source, [ProfileIssue("", "larger than the 64 MiB limit")])
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ProfileError(source, [ProfileIssue("", f"not valid TOML: {exc}")]) from None
        except RecursionError:
            raise ProfileError(source, [ProfileIssue("", "nested too deeply")]) from None
        return cls.from_dict(data, source)

    @classmethod
    def load(cls, path: Path | str) -> Profile:
        path = Path(path)
        try:
            if path.stat().st_size > MAX_PROFILE_BYTES:
                raise ProfileError(str(path), [ProfileIssue("", "larger than the 64 MiB limit")])
            raw = path.read_bytes()
        except OSError as exc:
            raise ProfileError(str(path), [ProfileIssue("", exc.strerror or str(exc))]) from None
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise ProfileError(str(path), [ProfileIssue("", "not UTF-8 text")]) from None
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
        path = Path(path)
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text(self.dumps(), encoding="utf-8")
        tmp.replace(path)

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


def _duplicate_issues(dists: Sequence[DistributionUsage]) -> list[ProfileIssue]:
    issues = []
    seen: dict[tuple[str, str], int] = {}
    versions: dict[str, set[str]] = {}
    for index, dist in enumerate(dists):
        key = (dist.name, dist.version)
        if key in seen:
            issues.append(
                ProfileIssue(
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
                ProfileIssue(
                    f"distributions[{index}]",
                    f"{dist.name} appears at versions {', '.join(sorted(others))} too but "
                    "its also-seen does not say so (a duplicate distribution?)",
                )
            )
    return issues


def merge_profiles(profiles: Iterable[Profile]) -> Profile:
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
