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
import re
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
    "merge_profiles",
    "bundled_profiles",
    "bundled_profiles_dir",
    "load_profiles",
]

PROFILE_VERSION = 1
MAX_PROFILE_BYTES = 64 * 1024 * 1024
"""Profiles larger than this are refused: the torch training profile is about 200 KB."""

PrefixKind = Literal["venv", "conda", "system"]
Backend = Literal["python", "strace"]
Status = Literal["passed", "failed"]


_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")


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

    def unknown_keys(self, known: Iterable[str]) -> None:
        """Report every key of this table that the format does not define."""
        for key in sorted(set(self.data) - set(known)):
            shown = key if _BARE_KEY.fullmatch(key) else json.dumps(key)
            self.problem(shown, "unknown key")

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


def _is_version(text: str) -> bool:
    try:
        Version(text)
    except InvalidVersion:
        return False
    return True


def _version_key(version: str) -> tuple[Version, str]:
    """Sort by PEP 440 order, then by spelling (``1.0`` and ``1.0.0`` are equal versions)."""
    return Version(version), version


def _too_big() -> ProfileIssue:
    limit = MAX_PROFILE_BYTES
    mib = 1024 * 1024
    shown = f"{limit // mib} MiB" if limit % mib == 0 else f"{limit:,} bytes"
    return ProfileIssue("", f"larger than the limit of {shown}")


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
        r.unknown_keys(("python", "implementation", "platform", "prefix-kind"))
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


_TRACE_KEYS = (
    "command", "status", "exit-code", "backend", "created", "tool", "user", "processes",
    "outside-files", "environment",
)  # fmt: skip
_DISTRIBUTION_KEYS = ("name", "version", "also-seen", "scripts", "files", "probed")


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
        r.unknown_keys(_TRACE_KEYS)
        status = r.data.get("status")
        r.choice("status", ("passed", "failed"))
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
        exit_code_read = isinstance(r.data.get("exit-code"), int)
        if status in ("passed", "failed") and exit_code_read and status != trace.status:
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
        r.unknown_keys(_DISTRIBUTION_KEYS)
        name = r.get("name", str)
        if name and canonicalize_name(name) != name:
            r.problem("name", f"{name!r} is not normalized (expected {canonicalize_name(name)!r})")
        version = r.get("version", str)
        if isinstance(r.data.get("version"), str) and not _is_version(version):
            r.problem("version", f"{version!r} is not a valid version")
        also_seen = r.strings("also-seen")
        for index, other in enumerate(also_seen):
            if not _is_version(other):
                place = f"{r.where}.also-seen[{index}]"
                r.issues.append(ProfileIssue(place, f"{other!r} is not a valid version"))
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
            also_seen=also_seen,
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
        ordered = tuple(sorted(self.distributions, key=lambda d: (d.name, _version_key(d.version))))
        object.__setattr__(self, "distributions", ordered)

    # -- reading ---------------------------------------------------------------

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], source: str = "<profile>") -> Profile:
        """Validate ``data`` and build a profile; raise one ProfileError with every problem."""
        issues: list[ProfileIssue] = []
        top = _Reader(data, "", issues)
        version = top.get("profile-version", int, what="an integer")
        if type(data.get("profile-version")) is int and version != PROFILE_VERSION:
            issues.append(
                ProfileIssue(
                    "profile-version",
                    f"unknown version {data['profile-version']!r}; "
                    f"this lean-install reads version {PROFILE_VERSION}",
                )
            )
            raise ProfileError(source, issues)
        top.unknown_keys(("profile-version", "traces", "distributions"))
        traces = tuple(Trace.from_reader(r) for r in top.tables("traces"))
        dists = tuple(DistributionUsage.from_reader(r) for r in top.tables("distributions"))
        issues.extend(_duplicate_issues(dists))
        if issues:
            raise ProfileError(source, issues)
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
            raise ProfileError(source, [ProfileIssue("", f"not valid TOML: {problem}")]) from None
        except RecursionError:
            raise ProfileError(source, [ProfileIssue("", "nested too deeply")]) from None
        return cls.from_dict(data, source)

    @classmethod
    def load(cls, path: Path | str) -> Profile:
        path = Path(path)
        try:
            with path.open("rb") as file:  # one byte past the limit at most (think /dev/zero)
                raw = file.read(MAX_PROFILE_BYTES + 1)
        except OSError as exc:
            raise ProfileError(str(path), [ProfileIssue("", exc.strerror or str(exc))]) from None
        if len(raw) > MAX_PROFILE_BYTES:
            raise ProfileError(str(path), [_too_big()])
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


def bundled_profiles_dir() -> Path:
    """Where the curated profiles are: inside the installed package, or the source tree's."""
    here = Path(__file__).parent
    for candidate in (here / "profiles", here.parent / "profiles"):
        if candidate.is_dir():
            return candidate
    return here / "profiles"


def bundled_profiles() -> dict[str, Path]:
    """The curated profiles by name (file stem)."""
    return {p.stem: p for p in sorted(bundled_profiles_dir().glob("*.toml"))}


def load_profiles(specs: Sequence[str]) -> tuple[Profile | None, str]:
    """Load and merge profiles named by path or by bundled name; also return their label.

    The label (file stems joined by ``+``) is how stubs name the profile.
    """
    if not specs:
        return None, ""
    bundled = bundled_profiles()
    profiles, labels = [], []
    for spec in specs:
        path = Path(spec)
        if not path.exists() and spec in bundled:
            path = bundled[spec]
        profiles.append(Profile.load(path))
        labels.append(path.stem if path.suffix == ".toml" else path.name)
    return merge_profiles(profiles), "+".join(labels)
