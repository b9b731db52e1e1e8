"""The lock: a PEP 751 ``pylock.toml`` that reproduces a lean environment exactly.

``lock`` runs the shared pipeline (``install.prepare``) and writes what it resolved and
planned; ``sync`` makes an environment match a lock; ``wheelhouse`` writes a lock's lean
wheels under a PEP 503 simple index that any static web server can serve.

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

import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import urllib.error
import urllib.request
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from html import escape
from html.parser import HTMLParser
from pathlib import Path
from typing import Any, TypeVar, cast
from urllib.parse import quote, unquote, urldefrag, urljoin, urlsplit

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
    is_valid_pylock_path,
)
from packaging.specifiers import SpecifierSet
from packaging.tags import Tag, parse_tag
from packaging.utils import NormalizedName
from packaging.version import InvalidVersion, Version

from lean_install import __version__
from lean_install.cache import Cache, file_sha256
from lean_install.environment import Environment, InstalledDistribution, read_record
from lean_install.errors import (
    EnvironmentInspectionError,
    HashMismatchError,
    LockEnvironmentError,
    LockError,
    ToolMissingError,
    UsageError,
)
from lean_install.install import (
    Installer,
    OnMiss,
    Prepared,
    build_lean_wheel,
    choose_installer,
    choose_policy,
    configure_on_miss,
    install_prepared,
    pip_check,
    prepare,
    recover,
)
from lean_install.plan import DistributionPlan, Plan, Policy
from lean_install.profile import Profile, load_profiles
from lean_install.progress import Progress, make_progress
from lean_install.reserve import ON_MISS_MODES
from lean_install.resolve import Resolution, ResolvedDistribution, fetch

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

__all__ = [
    "LOCK_FORMAT",
    "MAX_LOCK_BYTES",
    "LockedFile",
    "LockedDistribution",
    "LeanLock",
    "TargetEnvironment",
    "SyncResult",
    "build_lock",
    "dumps_lock",
    "write_lock",
    "read_lock",
    "lock_digest",
    "select",
    "lean_wheels",
    "sync",
    "write_wheelhouse",
    "cmd_lock",
    "cmd_sync",
    "cmd_wheelhouse",
]

TOOL = "lean-install"
LOCK_FORMAT = 1
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
_HEADER = (
    "# A PEP 751 lock written by lean-install (docs/lock.md). Its files are the original\n"
    "# wheels: a standard installer installs them unstripped. `lean-install sync` installs\n"
    "# the lean environment that [tool.lean-install] describes. Not to be edited by hand.\n"
)
_WHEELHOUSE_HEADER = (
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

    def resolved(self) -> ResolvedDistribution:
        """The original as ``resolve.fetch`` and ``install`` take it."""
        return ResolvedDistribution(
            name=self.name,
            version=self.plan.version,
            url=self.original.url,
            filename=self.original.filename,
            sha256=self.original.sha256,
            requested=True,
        )


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

    def plan(self, dists: Sequence[LockedDistribution]) -> Plan:
        return Plan(
            policy=self.policy,
            profile_label=self.profile_label,
            profile_digest=self.profile_digest,
            distributions=tuple(d.plan for d in dists),
        )


def _describe_markers(markers: Mapping[str, str]) -> str:
    return (
        f"{markers.get('platform_python_implementation', '?')} "
        f"{markers.get('python_full_version', '?')} on "
        f"{markers.get('sys_platform', '?')} {markers.get('platform_machine', '?')}"
    )


# -- writing a lock ----------------------------------------------------------------------


def build_lock(prepared: Prepared, env: Environment, profile: Profile | None) -> Pylock:
    """The lock of a prepared (built) pipeline run for ``env``; validated, digest included."""
    markers = _recorded_markers(prepared.resolution)
    kept = sorted((p for p in prepared.plan.distributions if p.name in prepared.wheels),
                  key=lambda p: p.name)  # fmt: skip
    lock = Pylock(
        lock_version=Version("1.0"),
        environments=[_environment_marker(markers)],
        requires_python=SpecifierSet(f"=={markers['python_version']}.*"),
        created_by=TOOL,
        packages=[_package(plan, prepared) for plan in kept],
        tool={TOOL: _lock_table(prepared.plan, env, markers, profile)},
    )
    digest = lock_digest(lock.to_dict())  # the digest goes after the format, before the rest
    lock = replace(lock, tool={TOOL: {"format": LOCK_FORMAT, "digest": digest, **_tool_of(lock)}})
    lock.validate()
    return lock


def _tool_of(lock: Pylock) -> dict[str, Any]:
    return dict((lock.tool or {})[TOOL])


def _recorded_markers(resolution: Resolution) -> dict[str, str]:
    markers = resolution.marker_environment
    missing = [key for key in _RECORDED_MARKERS if key not in markers]
    if missing:
        raise LockError("<resolution>", [f"pip's report gives no {', '.join(missing)}"])
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


def _package(plan: DistributionPlan, prepared: Prepared) -> Package:
    dist = prepared.resolution.distribution(plan.name)
    if dist is None or not dist.is_archive:
        where = dist.url if dist else "nowhere"
        raise LockError("<resolution>", [f"{plan.name} comes from {where}, not from a file"],
                        hint="a lock names wheels and sdists; build the project first")  # fmt: skip
    original = _original_file(dist, prepared.originals.get(plan.name))
    lean_path = prepared.wheels[plan.name]
    lean = LockedFile(
        filename=lean_path.name, sha256=file_sha256(lean_path), size=lean_path.stat().st_size
    )
    table = {"lean-version": plan.lean_version, "wheel": lean.to_table(), "plan": plan.to_dict()}
    return _package_of(plan.name, plan.version, original, tool={TOOL: table})


def _original_file(dist: ResolvedDistribution, fetched: Path | None) -> LockedFile:
    sha256 = dist.sha256 or (fetched.parent.name if fetched else None)  # originals/<sha256>/
    if not sha256:
        hint = "a lock needs a hash of every file: use an index that gives them"
        raise LockError("<resolution>", [f"the index gives no sha256 of {dist.filename}"], hint)
    size = fetched.stat().st_size if fetched else None
    return LockedFile(filename=dist.filename, sha256=sha256, size=size, url=dist.url)


def _package_of(
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
        return Package(name=NormalizedName(name), version=Version(version), wheels=[wheel],
                       tool=tool)  # fmt: skip
    sdist = PackageSdist(name=file.filename, url=url, path=path, size=file.size, hashes=hashes)
    return Package(name=NormalizedName(name), version=Version(version), sdist=sdist, tool=tool)


def dumps_lock(lock: Pylock, header: str = _HEADER) -> str:
    """The TOML text of a lock (the same lock always gives the same bytes)."""
    return header + tomli_w.dumps(dict(lock.to_dict()))


def write_lock(lock: Pylock, path: Path, header: str = _HEADER) -> None:
    """Write atomically: a reader never sees half a lock."""
    _write_text(path, dumps_lock(lock, header))


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
    if _too_deep(data):  # the digest (json) and the checks recurse too
        raise LockError(str(path), [f"tables and arrays nested more than {_MAX_DEPTH} deep"])
    return data


def _too_deep(data: object) -> bool:
    """Whether tables and arrays nest more than ``_MAX_DEPTH`` deep (found without recursion)."""
    stack: list[tuple[object, int]] = [(data, 0)]
    while stack:
        node, depth = stack.pop()
        if depth > _MAX_DEPTH:
            return True
        if isinstance(node, dict):
            stack.extend((child, depth + 1) for child in node.values())
        elif isinstance(node, list):
            stack.extend((child, depth + 1) for child in node)
    return False


def _lean_table(source: str, pylock: Pylock, data: Mapping[str, Any]) -> Mapping[str, Any]:
    """The top-level tool table, after checking its format and the lock's digest."""
    table = (pylock.tool or {}).get(TOOL)
    if not isinstance(table, Mapping) or "format" not in table:
        hint = "install it with any PEP 751 installer: pip install -r LOCK (pip >= 26.1)"
        raise LockError(source, ["not a lock that `lean-install lock` wrote"], hint)
    if table.get("format") != LOCK_FORMAT:
        raise LockError(source, [f"lock format {table.get('format')!r}; this {TOOL} reads "
                                 f"format {LOCK_FORMAT}"])  # fmt: skip
    actual = lock_digest(data)
    if table.get("digest") != actual:
        raise LockError(
            source,
            [f"[tool.{TOOL}] digest is {table.get('digest')!r} but the content's is {actual}: "
             "the lock was edited after lean-install wrote it"],
            hint="make the lock again with: lean-install lock (locks are not edited by hand)",
        )  # fmt: skip
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
        issues.append(f"packages[{index}] ({package.name}): a lean-install lock gives one file "
                      f"and a [packages.tool.{TOOL}] table per package")  # fmt: skip
        return None
    plan = _locked_plan(package, _get(table, "plan", dict, where, issues), where, issues)
    lean = _get(table, "wheel", dict, where, issues)
    if plan is None or lean is None:
        return None
    if table.get("lean-version") != plan.lean_version:
        issues.append(f"{where}.lean-version: {table.get('lean-version')!r} is not the version "
                      f"its plan gives ({plan.lean_version})")  # fmt: skip
    file = files[0]
    url = file.url or (base / (file.path or "")).resolve().as_uri()
    sha256 = file.hashes.get("sha256", "")
    if not _SHA256.fullmatch(sha256):  # fetch checks an original only against a sha256
        issues.append(f"packages[{index}] ({package.name}): {file.filename} has no sha256 "
                      f"(64 hex digits) but {sha256!r}")  # fmt: skip
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
        plan = DistributionPlan.from_dict(data)
        same = plan.name == package.name and Version(plan.version) == package.version
    except (KeyError, TypeError, ValueError, InvalidVersion) as exc:
        issues.append(f"{where}.plan: {exc!r}")
        return None
    if not same or plan.decision not in ("keep", "strip", "stub"):
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


# -- the target environment --------------------------------------------------------------

_DESCRIBE_TARGET = """\
import json
from pip._vendor.packaging.markers import default_environment
from pip._vendor.packaging.tags import sys_tags
print(json.dumps({"markers": default_environment(), "tags": [str(t) for t in sys_tags()]}))
"""


@dataclass(frozen=True)
class TargetEnvironment:
    """The marker values and wheel tags of a target interpreter (asked through its pip)."""

    markers: Mapping[str, str]
    tags: tuple[Tag, ...]

    @classmethod
    def inspect(cls, env: Environment) -> TargetEnvironment:
        command = [env.executable, "-I", "-c", _DESCRIBE_TARGET]
        done = subprocess.run(command, capture_output=True, text=True, env=_plain_environ())
        if done.returncode != 0:
            if "No module named 'pip" in done.stderr:
                raise ToolMissingError("pip", f"{env.executable} -m ensurepip --upgrade")
            detail = (done.stderr.strip().splitlines() or [f"exit {done.returncode}"])[-1]
            raise EnvironmentInspectionError(env.executable, detail)
        data = json.loads(done.stdout)
        tags = tuple(tag for text in data["tags"] for tag in parse_tag(text))
        return cls(markers=dict(data["markers"]), tags=tags)

    def describe(self) -> str:
        return _describe_markers(self.markers)


def _plain_environ() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}


def select(lock: LeanLock, target: TargetEnvironment, executable: str) -> list[LockedDistribution]:
    """What the lock installs into ``target``, chosen as PEP 751 says (``Pylock.select``).

    A lock for another Python or platform raises LockEnvironmentError naming both.
    """
    environment = cast(MarkerEnvironment, dict(target.markers))
    try:
        chosen = [p.name for p, _ in lock.pylock.select(environment=environment, tags=target.tags)]
    except PylockSelectError as exc:
        raise LockEnvironmentError(
            lock.source, lock.describe_environment(), f"{executable}: {target.describe()}", str(exc)
        ) from None
    by_name = {d.name: d for d in lock.distributions}
    return [by_name[name] for name in chosen]


# -- the lean wheels: built from the originals, or taken from a wheelhouse ----------------


def lean_wheels(
    lock: LeanLock,
    dists: Sequence[LockedDistribution],
    *,
    env: Environment,
    cache: Cache,
    pip_args: Sequence[str],
    wheelhouse: str | None,
    scratch: Path,
    progress: Progress,
) -> dict[NormalizedName, Path]:
    """The file to install for each of ``dists``, each checked against the lock's sha256.

    From ``wheelhouse`` (downloaded into ``scratch``) if given, else built from the
    originals (fetched, hash-checked, stripped as the lock's plan says). Any file whose
    sha256 is not the lock's raises LockError, naming all of them.
    """
    if wheelhouse:
        wheels = _from_wheelhouse(lock, dists, wheelhouse, scratch, progress)
    else:
        wheels = _from_originals(lock, dists, env, cache, pip_args, progress)
    issues = [
        f"{d.name}: the {d.plan.decision} file {d.lean.filename} has sha256 {actual}, "
        f"the lock says {d.lean.sha256}"
        for d in dists
        if (actual := file_sha256(wheels[d.name])) != d.lean.sha256
    ]
    if issues:
        raise LockError(lock.source, issues, hint="the lean wheels differ from those the lock "
                        "was made with (another lean-install version?): lock again")  # fmt: skip
    return wheels


def _from_originals(
    lock: LeanLock,
    dists: Sequence[LockedDistribution],
    env: Environment,
    cache: Cache,
    pip_args: Sequence[str],
    progress: Progress,
) -> dict[NormalizedName, Path]:
    wanted = [d.resolved() for d in dists if d.plan.decision != "stub"]
    progress.step("fetching originals", len(wanted))
    try:
        originals = fetch(env, wanted, cache, pip_args)
    except HashMismatchError as exc:
        hint = "the file changed since the lock was made; lock again"
        issue = f"an original does not match the lock: {exc}"
        raise LockError(lock.source, [issue], hint) from None
    progress.step("stripping", len(dists))
    wheels = {}
    for d in dists:
        wheels[d.name] = build_lean_wheel(d.plan, originals.get(d.name), cache)
        progress.advance(d.name)
    return wheels


def _from_wheelhouse(
    lock: LeanLock,
    dists: Sequence[LockedDistribution],
    root: str,
    scratch: Path,
    progress: Progress,
) -> dict[NormalizedName, Path]:
    simple = _simple_url(root)
    try:
        _read(_page_url(simple))
    except (OSError, ValueError) as exc:
        hint = "give the URL (or the directory) that lean-install wheelhouse -d wrote"
        issue = f"no wheelhouse at {root}: cannot read {simple} ({exc})"
        raise LockError(lock.source, [issue], hint) from None
    progress.step("downloading from the wheelhouse", len(dists))
    wheels, issues = {}, []
    for d in dists:
        try:
            wheels[d.name] = _download(_links(simple + d.name + "/"), d.lean.filename, scratch)
        except (OSError, ValueError) as exc:
            issues.append(f"{d.name}: {d.lean.filename} not in the wheelhouse {root} ({exc})")
        progress.advance(d.name)
    if issues:
        raise LockError(lock.source, issues, hint="write the wheelhouse from this lock: "
                        "lean-install wheelhouse LOCK -d DIR")  # fmt: skip
    return wheels


def _simple_url(root: str) -> str:
    """The simple index under a wheelhouse root (a URL or a directory), ending in /."""
    url = root if "://" in root else Path(root).resolve().as_uri()
    url = url.rstrip("/") + "/"
    return url if url.endswith("/simple/") else url + "simple/"


def _page_url(url: str) -> str:
    """file:// directories have no index: read their index.html as a web server would."""
    return url + "index.html" if url.startswith("file:") and url.endswith("/") else url


def _read(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=60) as response:
        return cast(bytes, response.read())


class _Anchors(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        href = dict(attrs).get("href")
        if tag == "a" and href:
            self.hrefs.append(href)


def _links(page: str) -> dict[str, str]:
    """A PEP 503 project page's files: file name -> absolute URL (without its #hash)."""
    parser = _Anchors()
    parser.feed(_read(_page_url(page)).decode("utf-8", "replace"))
    links = {}
    for href in parser.hrefs:
        url, _ = urldefrag(urljoin(page, href))
        links[unquote(urlsplit(url).path.rsplit("/", 1)[-1])] = url
    return links


def _download(links: Mapping[str, str], filename: str, scratch: Path) -> Path:
    if filename not in links:
        raise FileNotFoundError("the project page does not link it")
    target = scratch / filename
    with urllib.request.urlopen(links[filename], timeout=60) as response, target.open("wb") as out:
        shutil.copyfileobj(response, out)
    return target


# -- sync --------------------------------------------------------------------------------


@dataclass(frozen=True)
class SyncResult:
    """What ``sync`` did, as ``name==version`` strings."""

    installed: tuple[str, ...]
    removed: tuple[str, ...]
    unchanged: tuple[str, ...]


def sync(
    env: Environment,
    lock: LeanLock,
    *,
    installer: Installer,
    cache: Cache,
    pip_args: Sequence[str],
    wheelhouse: str | None,
    progress: Progress,
    on_miss: OnMiss | None = None,
) -> SyncResult:
    """Make ``env`` hold exactly what ``lock`` installs there (pip itself stays).

    Everything is checked before anything changes: the target's Python and platform,
    each original's hash, each lean file's sha256. Then what is missing or different is
    installed (``--no-deps``, by name and version) and what is extra is uninstalled.
    """
    dists = select(lock, TargetEnvironment.inspect(env), env.executable)
    installed = {d.name: d for d in env.distributions()}
    extra = sorted(set(installed) - {d.name for d in dists} - {"pip"})
    if TOOL in extra:
        raise LockError(lock.source, [f"sync would uninstall {TOOL} itself from {env.prefix}"],
                        hint="sync another environment: --python ENV/bin/python")  # fmt: skip
    with cache.temporary_directory() as scratch:
        wheels = lean_wheels(lock, dists, env=env, cache=cache, pip_args=pip_args,
                             wheelhouse=wheelhouse, scratch=scratch, progress=progress)  # fmt: skip
        same = [d for d in dists if _installed_exactly(installed.get(d.name), d, wheels[d.name])]
        todo = [d for d in dists if d not in same]
        if todo or extra:
            install_prepared(env, _prepared(lock, todo, wheels), installer=installer, cache=cache,
                             pip_args=pip_args, progress=progress, reinstall=True,
                             on_miss=on_miss, uninstall=extra)  # fmt: skip
        elif on_miss is not None:
            configure_on_miss(env, on_miss)
    return SyncResult(
        installed=tuple(f"{d.name}=={d.lean_version}" for d in todo),
        removed=tuple(f"{name}=={installed[name].version}" for name in extra),
        unchanged=tuple(f"{d.name}=={d.lean_version}" for d in same),
    )


def _installed_exactly(
    installed: InstalledDistribution | None, dist: LockedDistribution, wheel: Path
) -> bool:
    """Installed at the lock's version, with every file of its wheel as RECORD hashed it."""
    if installed is None:
        return False
    try:
        if Version(installed.version) != Version(dist.lean_version):
            return False
    except InvalidVersion:
        return False
    if wheel.suffix != ".whl":  # an sdist kept as is: its build's files are unknown here
        return True
    recorded = {entry.path: entry.hash for entry in installed.record}
    return all(recorded.get(path) == digest for path, digest in _wheel_record(wheel).items())


def _wheel_record(wheel: Path) -> dict[str, str]:
    """A wheel's RECORD hashes of the files that install into site-packages."""
    with zipfile.ZipFile(wheel) as archive:
        name = next(
            n for n in archive.namelist() if n.count("/") == 1 and n.endswith(".dist-info/RECORD")
        )
        rows = read_record(archive.read(name).decode("utf-8"))
    return {r.path: r.hash for r in rows if r.hash and not r.path.split("/")[0].endswith(".data")}


def _prepared(
    lock: LeanLock, dists: Sequence[LockedDistribution], wheels: Mapping[NormalizedName, Path]
) -> Prepared:
    return Prepared(
        resolution=Resolution(distributions=tuple(d.resolved() for d in dists)),
        plan=lock.plan(dists),
        wheels={d.name: wheels[d.name] for d in dists},
    )


# -- the wheelhouse ----------------------------------------------------------------------


def write_wheelhouse(
    lock: LeanLock,
    dists: Sequence[LockedDistribution],
    wheels: Mapping[NormalizedName, Path],
    directory: Path,
) -> None:
    """Write ``directory``: a PEP 503 simple index of the lean wheels, a lock and pins.

    ``simple/<name>/<file>`` and ``simple/<name>/index.html`` (links with ``#sha256=``)
    for each package, ``simple/index.html``, ``pylock.toml`` (a standard lock whose files
    are the lean ones, by relative path) and ``requirements.txt`` (pins with hashes).
    """
    simple = directory / "simple"
    for d in dists:
        project = simple / d.name
        project.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(wheels[d.name], project / d.lean.filename)
        _write_text(project / "index.html", _page(d.name, [(d.lean.filename, d.lean.sha256)]))
    names = sorted(p.name for p in simple.iterdir() if p.is_dir())
    _write_text(simple / "index.html", _page("", [(f"{n}/", "") for n in names]))
    write_lock(_wheelhouse_lock(lock, dists), directory / "pylock.toml", _WHEELHOUSE_HEADER)
    pins = [f"{d.name}=={d.lean_version} --hash=sha256:{d.lean.sha256}\n" for d in dists]
    _write_text(directory / "requirements.txt", "".join(sorted(pins)))


def _page(project: str, links: Sequence[tuple[str, str]]) -> str:
    title = f"Links for {project}" if project else "Simple index"
    anchors = "".join(
        f'<a href="{quote(href)}{"#sha256=" + sha256 if sha256 else ""}">{escape(href)}</a><br>\n'
        for href, sha256 in links
    )
    return (
        '<!DOCTYPE html>\n<html><head><meta name="pypi:repository-version" content="1.0">'
        f"<title>{escape(title)}</title></head>\n<body><h1>{escape(title)}</h1>\n"
        f"{anchors}</body></html>\n"
    )


def _write_text(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


def _wheelhouse_lock(lock: LeanLock, dists: Sequence[LockedDistribution]) -> Pylock:
    packages = [
        _package_of(d.name, d.lean_version, d.lean, path=f"simple/{d.name}/{d.lean.filename}")
        for d in dists
    ]
    table = {"wheelhouse-of": _tool_of(lock.pylock)["digest"]}
    wheelhouse = replace(lock.pylock, packages=packages, tool={TOOL: table})
    wheelhouse.validate()
    return wheelhouse


# -- the commands ------------------------------------------------------------------------

LOCK_USAGE = """\
usage: lean-install lock [-o pylock.toml] [--python PY] [--profile PROFILE ...]
                         [--policy profile|safe] [-q] REQUIREMENT... [pip options]

Resolve and plan as `lean-install install` does, build the lean wheels, and write a
PEP 751 lock (pylock.toml or pylock.<name>.toml). Its files are the original wheels (a
standard installer installs them unstripped); [tool.lean-install] holds the profile,
the policy, each package's plan and the sha256 of its lean wheel (see docs/lock.md)."""

SYNC_USAGE = """\
usage: lean-install sync LOCK [--python PY] [--wheelhouse URL|DIR] [--installer auto|pip|uv]
                         [--on-miss error|restore|log] [-q] [pip options]

Make the environment of PY hold exactly what LOCK installs there: build the lean
wheels from the originals (hash-checked) or take them from a wheelhouse, check each
against the lock's sha256, install what is missing, uninstall what is extra (pip stays).
Any mismatch refuses the sync before anything changes."""

WHEELHOUSE_USAGE = """\
usage: lean-install wheelhouse LOCK -d DIR [-q] [pip options]

Write LOCK's lean wheels to DIR with a PEP 503 simple index (DIR/simple/<name>/), a
lock of the lean wheels (DIR/pylock.toml) and pins (DIR/requirements.txt). Serve DIR
with any static web server, then on each machine:
  pip install --index-url URL/simple/ -r URL/requirements.txt
  lean-install sync LOCK --python PY --wheelhouse URL"""


def _say(message: str) -> None:
    print(f"lean-install: {message}", file=sys.stderr)


def _wants_help(argv: Sequence[str], usage: str) -> bool:
    if argv and argv[0] not in ("-h", "--help"):
        return False
    print(usage)
    return True


def _parser(prog: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=f"lean-install {prog}", add_help=False, allow_abbrev=False)
    p.add_argument("-q", "--quiet", action="store_true", help="no progress output")
    return p


def cmd_lock(argv: Sequence[str]) -> int:
    if _wants_help(argv, LOCK_USAGE):
        return 0
    p = _parser("lock")
    p.add_argument("-o", "--output", default="pylock.toml")
    p.add_argument("--python")
    p.add_argument("--profile", action="append", default=[])
    p.add_argument("--policy", choices=["profile", "safe"])
    args, pip_args = p.parse_known_args(list(argv))
    output = Path(args.output)
    if not is_valid_pylock_path(output):
        raise UsageError(f"{output}: a PEP 751 lock is named pylock.toml or pylock.<name>.toml")
    profile, label = load_profiles(args.profile)
    policy = choose_policy(profile, args.policy)
    env = Environment.inspect(args.python)
    with make_progress(args.quiet) as progress:
        prepared = prepare(env, pip_args, profile=profile, profile_label=label, policy=policy,
                           cache=Cache.default(), progress=progress)  # fmt: skip
    write_lock(build_lock(prepared, env, profile), output)
    counts = {d: 0 for d in ("keep", "strip", "stub", "omit")}
    for plan in prepared.plan.distributions:
        counts[plan.decision] += 1
    summary = ", ".join(f"{n} {d}" for d, n in counts.items())
    _say(f"locked {len(prepared.wheels)} distributions ({summary}) to {output}")
    return 0


def cmd_sync(argv: Sequence[str]) -> int:
    if _wants_help(argv, SYNC_USAGE):
        return 0
    p = _parser("sync")
    p.add_argument("lock")
    p.add_argument("--python")
    p.add_argument("--wheelhouse")
    p.add_argument("--installer", choices=["auto", "pip", "uv"], default="auto")
    p.add_argument("--on-miss", choices=ON_MISS_MODES)
    args, pip_args = p.parse_known_args(list(argv))
    lock = read_lock(Path(args.lock))
    env = Environment.inspect(args.python)
    with make_progress(args.quiet) as progress:
        if recover(env, Cache.default(), progress):
            env = Environment.inspect(args.python)
        result = sync(env, lock, installer=choose_installer(args.installer), cache=Cache.default(),
                      pip_args=pip_args, wheelhouse=args.wheelhouse, progress=progress,
                      on_miss=args.on_miss)  # fmt: skip
    _say(f"synced {env.prefix} to {args.lock}: installed {len(result.installed)}, removed "
         f"{len(result.removed)}, unchanged {len(result.unchanged)}")  # fmt: skip
    clean, output = pip_check(env)
    if not clean:
        _say(f"pip check reports problems after the sync:\n{output}")
        return 1
    return 0


def cmd_wheelhouse(argv: Sequence[str]) -> int:
    if _wants_help(argv, WHEELHOUSE_USAGE):
        return 0
    p = _parser("wheelhouse")
    p.add_argument("lock")
    p.add_argument("-d", "--dest", required=True)
    args, pip_args = p.parse_known_args(list(argv))
    lock = read_lock(Path(args.lock))
    directory = Path(args.dest)
    cache = Cache.default()
    with make_progress(args.quiet) as progress, cache.temporary_directory() as scratch:
        wheels = lean_wheels(lock, lock.distributions, env=Environment.inspect(None), cache=cache,
                             pip_args=pip_args, wheelhouse=None, scratch=scratch,
                             progress=progress)  # fmt: skip
        write_wheelhouse(lock, lock.distributions, wheels, directory)
    _say(f"wrote {len(wheels)} lean wheels and their simple index to {directory}")
    return 0
