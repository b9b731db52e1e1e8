"""The lock: a PEP 751 ``pylock.toml`` that reproduces a lean environment exactly.

``build_lock`` writes what a plan resolved and planned; ``read_lock`` reads one back and
checks it; ``select`` says what it installs into a given target (``sync`` and
``wheelhouse`` use it).

The standard part of a lock names the *original* files (url, size, sha256), so an
installer that knows nothing of lean-install (``pip install -r pylock.toml``) installs
the same distributions at the same versions, unstripped: a full, working environment.
The ``[tool.lean-install]`` table holds the policy, the embedded profile and its digest,
the recorded environment and a digest of the whole lock; each
``[packages.tool.lean-install]`` table holds the package's plan and the sha256 of the
file lean-install installs for it (the stripped wheel, the stub distribution, or the
original when kept). ``sync`` checks every one of those before it changes anything.
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, TypeVar, cast

import tomli_w
from packaging.markers import Environment as MarkerEnvironment
from packaging.markers import Marker
from packaging.pylock import (
    Package,
    PackageSdist,
    PackageWheel,
    Pylock,
    PylockSelectError,
    PylockValidationError,
)
from packaging.specifiers import SpecifierSet
from packaging.tags import Tag
from packaging.utils import NormalizedName
from packaging.version import InvalidVersion, Version

from lean_install import __version__
from lean_install.cache import file_sha256
from lean_install.environment import Environment
from lean_install.errors import LockEnvironmentError, LockError, RecordError
from lean_install.plan import DistributionPlan, Plan, Policy, Source
from lean_install.profile import Profile
from lean_install.runtime.tables import too_deep

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

__all__ = [
    "TOOL",
    "LOCK_FORMAT",
    "MAX_LOCK_BYTES",
    "LockedFile",
    "LockedDistribution",
    "LeanLock",
    "build_lock",
    "dumps_lock",
    "write_lock",
    "read_lock",
    "lock_digest",
    "package_of",
    "select",
]

TOOL = "lean-install"
LOCK_FORMAT = 2
_ENVIRONMENT_MARKERS = ("implementation_name", "python_version", "sys_platform", "platform_machine")
"""The markers a lock's ``environments`` entry pins: its wheels were chosen for them."""
_RECORDED_MARKERS = (
    *_ENVIRONMENT_MARKERS,
    "platform_python_implementation",
    "python_full_version",
    "platform_system",
    "os_name",
)
"""Marker values recorded in the tool table (not the kernel's: a lock stays byte-identical)."""
HEADER = (
    "# A PEP 751 lock written by lean-install (docs/lock.md). Its files are the original\n"
    "# wheels: a standard installer installs them unstripped. `lean-install sync` installs\n"
    "# the lean environment that [tool.lean-install] describes. Not to be edited by hand.\n"
)
_WHEELHOUSEHEADER = (
    "# A PEP 751 lock of lean wheels, written by `lean-install wheelhouse` (docs/lock.md):\n"
    "# any installer installs the lean environment from it: pip install -r URL/pylock.toml\n"
)
_T = TypeVar("_T")
MAX_LOCK_BYTES = 64 * 1024 * 1024
"""Locks larger than this are refused unread: the limit on profiles, which a lock embeds."""
_MAX_DEPTH = 64
"""Tables and arrays nested deeper are refused (lean-install's own locks nest 8 deep)."""
_SHA256 = re.compile(r"[0-9a-f]{64}")
_PLAN_LISTS = ("drop", "stub-modules", "notes", "bytecode")
_PLAN_UNLOCKED = ("source",)
"""Plan fields a lock does not repeat: the package's own file entry says where it is."""


# -- the lock's contents ---------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class LockedFile:
    """A file a lock names: file name, sha256, size if known, and URL if it has one."""

    filename: str
    sha256: str
    size: int | None = None
    url: str = ""

    def to_table(self) -> dict[str, Any]:
        table: dict[str, Any] = {"name": self.filename}
        if self.size is not None:
            table["size"] = self.size
        table["hashes"] = {"sha256": self.sha256}
        return table


@dataclass(frozen=True, kw_only=True)
class LockedDistribution:
    """One package of a lock: its plan, its original file and the file lean-install installs."""

    plan: DistributionPlan
    original: LockedFile
    lean: LockedFile
    """The stripped wheel, the stub distribution, or (decision keep) the original itself."""

    @property
    def name(self) -> NormalizedName:
        return self.plan.name

    @property
    def lean_version(self) -> str:
        return self.plan.lean_version


@dataclass(frozen=True, kw_only=True)
class LeanLock:
    """A lock lean-install wrote, read back and checked (``read_lock``)."""

    source: str
    pylock: Pylock
    policy: Policy
    profile_label: str
    profile_digest: str
    profile: Profile | None
    environment: Mapping[str, Any]
    """The environment the lock was made for: python, implementation, platform, markers."""
    distributions: tuple[LockedDistribution, ...]

    def describe_environment(self) -> str:
        markers = self.environment.get("markers", {})
        where = _describe_markers(markers) if markers else str(self.environment)
        return f"{where} (requires-python {self.pylock.requires_python})"

    def plan(self, dists: Sequence[LockedDistribution] | None = None) -> Plan:
        """The plan the lock carries, for ``dists`` (all of its packages by default)."""
        chosen = self.distributions if dists is None else dists
        markers = self.environment.get("markers", {})
        return Plan(
            policy=self.policy,
            profile_label=self.profile_label,
            profile_digest=self.profile_digest,
            distributions=tuple(d.plan for d in chosen),
            markers={str(k): str(v) for k, v in markers.items()},
        )


def _describe_markers(markers: Mapping[str, str]) -> str:
    return (
        f"{markers.get('platform_python_implementation', '?')} "
        f"{markers.get('python_full_version', '?')} on "
        f"{markers.get('sys_platform', '?')} {markers.get('platform_machine', '?')}"
    )


# -- writing a lock ----------------------------------------------------------------------


def build_lock(
    plan: Plan,
    built: Mapping[NormalizedName, Path],
    originals: Mapping[NormalizedName, Path],
    env: Environment,
    profile: Profile | None,
) -> Pylock:
    """The lock of a built plan for ``env``; validated, digest included."""
    markers = _recorded_markers(plan.markers or env.markers)
    kept = sorted(plan.installed, key=lambda p: p.name)
    lock = Pylock(
        lock_version=Version("1.0"),
        environments=[_environment_marker(markers)],
        requires_python=SpecifierSet(f"=={markers['python_version']}.*"),
        created_by=TOOL,
        packages=[_package(d, built, originals) for d in kept],
        tool={TOOL: _lock_table(plan, env, markers, profile)},
    )
    digest = lock_digest(lock.to_dict())  # the digest goes after the format, before the rest
    lock = replace(lock, tool={TOOL: {"format": LOCK_FORMAT, "digest": digest, **_tool_of(lock)}})
    lock.validate()
    return lock


def _tool_of(lock: Pylock) -> dict[str, Any]:
    return dict((lock.tool or {})[TOOL])


def _recorded_markers(markers: Mapping[str, str]) -> dict[str, str]:
    missing = [key for key in _RECORDED_MARKERS if key not in markers]
    if missing:
        raise LockError("<resolution>", [f"the target's markers lack {', '.join(missing)}"])
    return {key: markers[key] for key in _RECORDED_MARKERS}


def _environment_marker(markers: Mapping[str, str]) -> Marker:
    return Marker(" and ".join(f"{k} == {json.dumps(markers[k])}" for k in _ENVIRONMENT_MARKERS))


def _lock_table(
    plan: Plan, env: Environment, markers: Mapping[str, str], profile: Profile | None
) -> dict[str, Any]:
    table: dict[str, Any] = {
        "format": LOCK_FORMAT,
        "created-by": f"{TOOL} {__version__}",
        "policy": plan.policy,
        "profile-label": plan.profile_label,
        "profile-digest": plan.profile_digest,
        "environment": {
            "python": env.python,
            "implementation": env.implementation,
            "platform": env.platform,
            "markers": dict(markers),
        },
        "omitted": [
            {"name": p.name, "version": p.version, "reason": p.reason}
            for p in plan.distributions
            if p.decision == "omit"
        ],
    }
    if profile is not None:
        table["profile"] = profile.to_dict()
    return table


def _package(
    plan: DistributionPlan,
    built: Mapping[NormalizedName, Path],
    originals: Mapping[NormalizedName, Path],
) -> Package:
    source = plan.source
    if source is None or not source.archive or plan.name not in built:
        where = source.url if source else "nowhere"
        raise LockError(
            "<resolution>",
            [f"{plan.name} comes from {where}, not from a file"],
            hint="a lock names wheels and sdists; build the project first",
        )
    original = _original_file(plan.name, source, originals.get(plan.name))
    lean_path = built[plan.name]
    lean = LockedFile(
        filename=lean_path.name, sha256=file_sha256(lean_path), size=lean_path.stat().st_size
    )
    planned = {k: v for k, v in plan.to_dict().items() if k not in _PLAN_UNLOCKED}
    table = {"lean-version": plan.lean_version, "wheel": lean.to_table(), "plan": planned}
    return package_of(plan.name, plan.version, original, tool={TOOL: table})


def _original_file(name: str, source: Source, fetched: Path | None) -> LockedFile:
    sha256 = source.sha256 or (fetched.parent.name if fetched else None)  # originals/<sha256>/
    if not sha256:
        hint = "a lock needs a hash of every file: use an index that gives them"
        raise LockError("<resolution>", [f"the index gives no sha256 of {source.filename}"], hint)
    size = fetched.stat().st_size if fetched else source.size
    return LockedFile(filename=source.filename, sha256=sha256, size=size, url=source.url)


def package_of(
    name: str,
    version: str,
    file: LockedFile,
    *,
    path: str | None = None,
    tool: Mapping[str, Any] | None = None,
) -> Package:
    """A package with one file: a wheel, or an sdist; by ``path`` if given, else by URL."""
    hashes = {"sha256": file.sha256}
    url = None if path else file.url
    if file.filename.endswith(".whl"):
        wheel = PackageWheel(name=file.filename, url=url, path=path, size=file.size, hashes=hashes)
        return Package(
            name=NormalizedName(name), version=Version(version), wheels=[wheel], tool=tool
        )
    sdist = PackageSdist(name=file.filename, url=url, path=path, size=file.size, hashes=hashes)
    return Package(name=NormalizedName(name), version=Version(version), sdist=sdist, tool=tool)


def dumps_lock(lock: Pylock, header: str = HEADER) -> str:
    """The TOML text of a lock (the same lock always gives the same bytes)."""
    return header + tomli_w.dumps(dict(lock.to_dict()))


def write_lock(lock: Pylock, path: Path, header: str = HEADER) -> None:
    """Write atomically: a reader never sees half a lock."""
    from lean_install.runtime.layout import write_atomically

    write_atomically(path, dumps_lock(lock, header).encode("utf-8"))


def lock_digest(data: Mapping[str, Any]) -> str:
    """sha256 of what lean-install reads in a lock: all but the digest and file locations.

    A file's url or path may be rewritten (a mirror): its hashes still pin the content.
    """
    content = json.loads(json.dumps(data, default=str))  # a deep copy in JSON's types
    content.get("tool", {}).get(TOOL, {}).pop("digest", None)
    for package in content.get("packages", []):
        for entry in [*package.get("wheels", []), package.get("sdist"), package.get("archive")]:
            if isinstance(entry, dict):
                entry.pop("url", None)
                entry.pop("path", None)
    canon = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "sha256:" + hashlib.sha256(canon.encode()).hexdigest()


# -- reading a lock ----------------------------------------------------------------------


def read_lock(path: Path) -> LeanLock:
    """Read, validate (PEP 751 and lean-install's tables) and check a lock's digest."""
    source = str(path)
    data = _load_toml(path)
    try:
        pylock = Pylock.from_dict(data)
    except PylockValidationError as exc:
        raise LockError(source, [f"not a valid PEP 751 lock: {exc}"]) from None
    table = _lean_table(source, pylock, data)
    issues: list[str] = []
    dists = [_locked(p, i, path.parent, issues) for i, p in enumerate(pylock.packages)]
    profile = _embedded_profile(table, issues)
    environment = _get(table, "environment", dict, f"tool.{TOOL}", issues)
    if environment is not None and not isinstance(environment.get("markers", {}), dict):
        issues.append(f"tool.{TOOL}.environment.markers: not a table")
    if issues:
        raise LockError(source, issues)
    return LeanLock(
        source=source,
        pylock=pylock,
        policy=cast(Policy, table.get("policy")),
        profile_label=str(table.get("profile-label", "")),
        profile_digest=str(table.get("profile-digest", "")),
        profile=profile,
        environment=environment or {},
        distributions=tuple(d for d in dists if d is not None),
    )


def _load_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as file:
            raw = file.read(MAX_LOCK_BYTES + 1)
        if len(raw) > MAX_LOCK_BYTES:
            raise LockError(str(path), [f"larger than {MAX_LOCK_BYTES} bytes: not a lock"])
        data = tomllib.loads(raw.decode("utf-8"))
    except OSError as exc:
        raise LockError(str(path), [exc.strerror or str(exc)]) from None
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise LockError(str(path), [f"not valid TOML: {exc}"]) from None
    except RecursionError:  # tomllib recurses into inline arrays and tables
        raise LockError(str(path), ["not valid TOML: nested too deeply"]) from None
    if too_deep(data, _MAX_DEPTH):  # the digest (json) and the checks recurse too
        raise LockError(str(path), [f"tables and arrays nested more than {_MAX_DEPTH} deep"])
    return data


def _lean_table(source: str, pylock: Pylock, data: Mapping[str, Any]) -> Mapping[str, Any]:
    """The top-level tool table, after checking its format and the lock's digest."""
    table = (pylock.tool or {}).get(TOOL)
    if not isinstance(table, Mapping) or "format" not in table:
        hint = "install it with any PEP 751 installer: pip install -r LOCK (pip >= 26.1)"
        raise LockError(source, ["not a lock that `lean-install lock` wrote"], hint)
    if table.get("format") != LOCK_FORMAT:
        raise LockError(
            source, [f"lock format {table.get('format')!r}; this {TOOL} reads format {LOCK_FORMAT}"]
        )
    actual = lock_digest(data)
    if table.get("digest") != actual:
        raise LockError(
            source,
            [
                f"[tool.{TOOL}] digest is {table.get('digest')!r} but the content's is {actual}: "
                "the lock was edited after lean-install wrote it"
            ],
            hint="make the lock again with: lean-install lock (locks are not edited by hand)",
        )
    policy = table.get("policy")
    if policy not in ("profile", "safe"):
        raise LockError(source, [f"[tool.{TOOL}] policy {policy!r} is not profile or safe"])
    return table


def _get(
    table: Mapping[str, Any], key: str, kind: type[_T], where: str, issues: list[str]
) -> _T | None:
    value = table.get(key)
    if isinstance(value, kind) and not isinstance(value, bool):
        return value
    issues.append(f"{where}.{key}: missing or not a {kind.__name__}")
    return None


def _locked(
    package: Package, index: int, base: Path, issues: list[str]
) -> LockedDistribution | None:
    where = f"packages[{index}].tool.{TOOL}"
    table = (package.tool or {}).get(TOOL)
    files = [*(package.wheels or ()), *((package.sdist,) if package.sdist else ())]
    if not isinstance(table, Mapping) or len(files) != 1:
        issues.append(
            f"packages[{index}] ({package.name}): a lean-install lock gives one file "
            f"and a [packages.tool.{TOOL}] table per package"
        )
        return None
    plan = _locked_plan(package, _get(table, "plan", dict, where, issues), where, issues)
    lean = _get(table, "wheel", dict, where, issues)
    if plan is None or lean is None:
        return None
    file = files[0]
    url = file.url or (base / (file.path or "")).resolve().as_uri()
    plan = replace(
        plan,
        source=Source(
            filename=file.filename, url=url, sha256=file.hashes.get("sha256"), size=file.size
        ),
    )
    if table.get("lean-version") != plan.lean_version:
        issues.append(
            f"{where}.lean-version: {table.get('lean-version')!r} is not the version "
            f"its plan gives ({plan.lean_version})"
        )
    sha256 = file.hashes.get("sha256", "")
    if not _SHA256.fullmatch(sha256):  # fetch checks an original only against a sha256
        issues.append(
            f"packages[{index}] ({package.name}): {file.filename} has no sha256 "
            f"(64 hex digits) but {sha256!r}"
        )
    original = LockedFile(filename=file.filename, sha256=sha256, size=file.size, url=url)
    return LockedDistribution(plan=plan, original=original, lean=_lean_file(lean, where, issues))


def _locked_plan(
    package: Package, data: Mapping[str, Any] | None, where: str, issues: list[str]
) -> DistributionPlan | None:
    if data is None:
        return None
    odd = [key for key in _PLAN_LISTS if not _strings(data.get(key, []))]
    if odd:  # the plan's digest (its lean version) is taken over its JSON
        issues.append(f"{where}.plan: {', '.join(odd)}: not a list of strings")
        return None
    try:
        plan = DistributionPlan.from_dict(data, f"{where}.plan")
        same = plan.name == package.name and Version(plan.version) == package.version
    except RecordError as exc:
        issues.extend(f"{where}.plan.{i}" for i in exc.issues)
        return None
    except (TypeError, ValueError, InvalidVersion) as exc:
        issues.append(f"{where}.plan: {exc!r}")
        return None
    if not same or plan.decision not in ("keep", "strip", "stub", "swap"):
        issues.append(f"{where}.plan: a {plan.decision} plan of {plan.name} {plan.version}")
        return None
    return plan


def _strings(value: object) -> bool:
    return isinstance(value, list) and all(isinstance(item, str) for item in value)


def _lean_file(table: Mapping[str, Any], where: str, issues: list[str]) -> LockedFile:
    hashes = table.get("hashes")
    sha256 = hashes.get("sha256") if isinstance(hashes, Mapping) else None
    name, size = table.get("name"), table.get("size")
    if not isinstance(name, str) or not isinstance(sha256, str):
        issues.append(f"{where}.wheel: needs a name and hashes.sha256")
    elif not _plain_file_name(name):  # it is written as DIRECTORY / name
        issues.append(f"{where}.wheel.name: {name!r} is not a plain file name")
    elif not _SHA256.fullmatch(sha256):
        issues.append(f"{where}.wheel.hashes.sha256: {sha256!r} is not 64 hex digits")
    return LockedFile(
        filename=str(name), sha256=str(sha256), size=size if isinstance(size, int) else None
    )


def _plain_file_name(name: str) -> bool:
    """A name that stays in the directory it is joined to (on POSIX and Windows)."""
    unsafe = any(c in name for c in "/\\\0") or re.match(r"[A-Za-z]:", name)
    return name not in ("", ".", "..") and not unsafe


def _embedded_profile(table: Mapping[str, Any], issues: list[str]) -> Profile | None:
    data = table.get("profile")
    if data is None:
        return None
    try:
        profile = Profile.from_dict(data, f"tool.{TOOL}.profile")
    except (ValueError, TypeError, AttributeError) as exc:
        issues.append(str(exc))
        return None
    if profile.usage_digest() != table.get("profile-digest"):
        issues.append(f"tool.{TOOL}.profile-digest does not match the embedded profile")
    return profile


def select(
    lock: LeanLock, markers: Mapping[str, str], tags: Sequence[Tag], executable: str
) -> list[LockedDistribution]:
    """What the lock installs into a target with these markers and tags, chosen as PEP 751
    says (``Pylock.select``). A lock for another Python or platform raises
    LockEnvironmentError naming both."""
    environment = cast(MarkerEnvironment, dict(markers))
    try:
        chosen = [p.name for p, _ in lock.pylock.select(environment=environment, tags=tags)]
    except PylockSelectError as exc:
        raise LockEnvironmentError(
            lock.source,
            lock.describe_environment(),
            f"{executable}: {_describe_markers(markers)}",
            str(exc),
        ) from None
    by_name = {d.name: d for d in lock.distributions}
    return [by_name[name] for name in chosen]
