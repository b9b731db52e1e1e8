"""Resolution: what the target's installer would install, from metadata only.

Two readers make the same ``Resolution``: one of pip's installation report (``pip install
--dry-run --ignore-installed --report -``, the reference) and one of the PEP 751 lock
that ``uv pip compile --format pylock.toml`` writes (much faster; ``target.TargetPip``
chooses). ``extras_only`` says which distributions only the extras the user asked for
(``pip install a[x]``) bring in: from the requirement graph of pip's report, or, for
uv, from a second resolution without those extras.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import unquote, urlsplit

from packaging.markers import UndefinedComparison, UndefinedEnvironmentName
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import NormalizedName, canonicalize_name

from lean_install.errors import ResolutionError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

__all__ = [
    "ResolvedDistribution",
    "Resolution",
    "from_pip_report",
    "find_report",
    "from_uv_lock",
]

_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


@dataclass(frozen=True, kw_only=True)
class ResolvedDistribution:
    """One distribution the installer would install."""

    name: NormalizedName
    version: str
    url: str
    """Where the file is (``https://...`` or ``file:///...``); for a local directory or a
    VCS checkout, what pip was given."""
    filename: str
    sha256: str | None
    """The hash the index gave for the file (None if it gave none)."""
    requested: bool
    """Named on the command line (or in a -r file), not only pulled in as a dependency."""
    requested_extras: tuple[str, ...] = ()
    requires_dist: tuple[str, ...] = ()
    is_direct: bool = False
    """Asked for by URL or path (``pkg @ https://...``, ``./pkg.whl``), not found on an index."""
    is_archive: bool = True
    """A file (wheel or sdist); False for a local directory or a VCS checkout."""
    size: int | None = None

    @property
    def is_wheel(self) -> bool:
        return self.is_archive and self.filename.endswith(".whl")

    @classmethod
    def from_report_item(cls, item: Mapping[str, Any]) -> ResolvedDistribution:
        """One entry of the report's ``install`` list (pip >= 23, report version 1)."""
        metadata = item["metadata"]
        info = item["download_info"]
        url = str(info["url"])
        archive = info.get("archive_info")
        return cls(
            name=canonicalize_name(str(metadata["name"])),
            version=str(metadata["version"]),
            url=url,
            filename=url_filename(url),
            sha256=_archive_sha256(archive) if isinstance(archive, Mapping) else None,
            requested=bool(item.get("requested", False)),
            requested_extras=tuple(item.get("requested_extras") or ()),
            requires_dist=tuple(metadata.get("requires_dist") or ()),
            is_direct=bool(item.get("is_direct", False)),
            is_archive=isinstance(archive, Mapping),
        )


@dataclass(frozen=True, kw_only=True)
class Resolution:
    distributions: tuple[ResolvedDistribution, ...]
    marker_environment: dict[str, str] = field(default_factory=dict)
    """The marker values of the target interpreter."""
    extras_only: Mapping[NormalizedName, tuple[str, ...]] = field(default_factory=dict)
    """Distributions only requested extras need, each with what requires it."""
    resolver: str = "pip"

    def distribution(self, name: str) -> ResolvedDistribution | None:
        key = canonicalize_name(name)
        return next((d for d in self.distributions if d.name == key), None)

    @property
    def requested(self) -> tuple[NormalizedName, ...]:
        return tuple(d.name for d in self.distributions if d.requested)


def url_filename(url: str) -> str:
    path = urlsplit(url).path.rstrip("/")
    return unquote(path.rsplit("/", 1)[-1])


def _archive_sha256(archive: Mapping[str, Any]) -> str | None:
    hashes = archive.get("hashes")
    if isinstance(hashes, Mapping) and isinstance(hashes.get("sha256"), str):
        return str(hashes["sha256"]).lower()
    algorithm, _, value = str(archive.get("hash", "")).partition("=")
    return value.lower() if algorithm == "sha256" and value else None


# -- pip's report -----------------------------------------------------------------------------


def find_report(stdout: str, tail: str) -> dict[str, Any]:
    """The JSON report in pip's stdout, even with log lines (``-v``, configs) around it."""
    text = _ANSI.sub("", stdout)
    decoder = json.JSONDecoder()
    for match in re.finditer(r"^\{", text, re.MULTILINE):
        try:
            value, _ = decoder.raw_decode(text, match.start())
        except json.JSONDecodeError:
            continue
        if isinstance(value, dict) and "install" in value:
            return value
    raise ResolutionError("pip printed no installation report:\n" + tail)


def from_pip_report(report: Mapping[str, Any]) -> Resolution:
    """Read pip's installation report; a malformed one raises ResolutionError."""
    try:
        dists = tuple(ResolvedDistribution.from_report_item(i) for i in report["install"])
        environment = {str(k): str(v) for k, v in report.get("environment", {}).items()}
    except (KeyError, TypeError, AttributeError) as exc:
        raise ResolutionError(f"pip's report is not as expected ({exc!r})") from None
    resolution = Resolution(distributions=dists, marker_environment=environment)
    return replace(resolution, extras_only=_extras_only(resolution))


def _extras_only(resolution: Resolution) -> dict[NormalizedName, tuple[str, ...]]:
    base = _needed_by(resolution, user_extras=False)
    everything = _needed_by(resolution, user_extras=True)
    return {
        d.name: tuple(sorted(everything.get(d.name, ())))
        for d in resolution.distributions
        if not d.requested and d.name not in base
    }


def _needed_by(resolution: Resolution, *, user_extras: bool) -> dict[NormalizedName, set[str]]:
    """Distributions reachable from the requested ones, each with what requires it.

    Extras that a requirement names (``b[fast]``) are followed: the requirer needs them.
    Extras the user asked for (``pip install a[x]``) only when ``user_extras``.
    """
    by_name = {d.name: d for d in resolution.distributions}
    needed: dict[NormalizedName, set[str]] = {}
    todo: list[tuple[NormalizedName, str]] = []
    for dist in resolution.distributions:
        if dist.requested:
            needed.setdefault(dist.name, set()).add("requested")
            extras = dist.requested_extras if user_extras else ()
            todo += [(dist.name, ""), *((dist.name, canonicalize_name(e)) for e in extras)]
    done: set[tuple[NormalizedName, str]] = set()
    while todo:
        name, extra = todo.pop()
        if (name, extra) in done or name not in by_name:
            continue
        done.add((name, extra))
        for req in _requirements(by_name[name], resolution.marker_environment, extra):
            dep = canonicalize_name(req.name)
            needed.setdefault(dep, set()).add(f"{name}[{extra}]" if extra else name)
            todo += [(dep, ""), *((dep, canonicalize_name(e)) for e in req.extras)]
    return needed


def _requirements(
    dist: ResolvedDistribution, environment: Mapping[str, str], extra: str
) -> list[Requirement]:
    """The requirements of ``dist`` that apply with ``extra`` active ("" for none)."""
    out = []
    for text in dist.requires_dist:
        try:
            req = Requirement(text)
        except InvalidRequirement:
            continue  # pip resolved with this metadata: it cannot be invalid
        if req.marker is None:
            out.append(req)
            continue
        try:
            applies = req.marker.evaluate({**environment, "extra": extra})
        except (UndefinedComparison, UndefinedEnvironmentName):
            applies = True  # cannot tell: count it as needed
        if applies:
            out.append(req)
    return out


# -- uv's lock --------------------------------------------------------------------------------


def from_uv_lock(
    text: str,
    requested: Sequence[NormalizedName],
    extras: Mapping[NormalizedName, tuple[str, ...]],
    markers: Mapping[str, str],
    base: set[NormalizedName] | None = None,
) -> Resolution | None:
    """The resolution in the ``pylock.toml`` text uv wrote; None if it holds something this
    reader does not take (a package with several wheels to choose from, an archive or VCS
    source): pip resolves then. ``base``: what the resolution without the requested
    extras holds (None when none were requested)."""
    try:
        packages = tomllib.loads(text).get("packages", [])
    except tomllib.TOMLDecodeError as exc:
        raise ResolutionError(f"uv wrote a lock that is not TOML: {exc}") from None
    dists = []
    for package in packages:
        dist = _uv_package(package, requested, extras)
        if dist is None:
            return None
        dists.append(dist)
    extras_only = {
        d.name: ("an extra you asked for",)
        for d in dists
        if base is not None and d.name not in base and not d.requested
    }
    return Resolution(
        distributions=tuple(dists),
        marker_environment=dict(markers),
        extras_only=extras_only,
        resolver="uv",
    )


def _uv_package(
    package: Mapping[str, Any],
    requested: Sequence[NormalizedName],
    extras: Mapping[NormalizedName, tuple[str, ...]],
) -> ResolvedDistribution | None:
    wheels = package.get("wheels") or []
    sdist = package.get("sdist")
    chosen = wheels[0] if len(wheels) == 1 else (sdist if not wheels else None)
    if not isinstance(chosen, Mapping) or not isinstance(chosen.get("url"), str):
        return None
    name = canonicalize_name(str(package.get("name", "")))
    hashes = chosen.get("hashes") or {}
    url = str(chosen["url"])
    return ResolvedDistribution(
        name=name,
        version=str(package.get("version", "")),
        url=url,
        filename=str(chosen.get("name") or url_filename(url)),
        sha256=str(hashes["sha256"]).lower() if "sha256" in hashes else None,
        requested=name in requested,
        requested_extras=extras.get(name, ()),
        size=chosen.get("size") if isinstance(chosen.get("size"), int) else None,
    )
