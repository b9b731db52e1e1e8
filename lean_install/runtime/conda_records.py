"""The records of a conda prefix that lean-install reads and writes, standard library only.

- ``PrefixRecord``: ``conda-meta/<name>-<version>-<build>.json``, conda's record of one
  installed package (conda 26: ``PrefixRecord``): its identity (name, version, build,
  channel, subdir), where it came from (``fn``, ``url``, and in the package cache
  ``package_tarball_full_path`` and ``extracted_package_dir``), the prefix-relative
  ``files`` it installed, and ``paths_data`` (``paths_version`` 1): per file its ``_path``,
  ``path_type`` (``hardlink``, ``softlink``, ``directory``, ``pyc_file``, ...), the
  package's ``sha256`` and ``size_in_bytes``, and ``sha256_in_prefix`` (after a prefix
  placeholder was replaced). For a ``noarch: python`` package ``_path`` stays the
  package's own (``site-packages/x.py``) while ``files`` has where it landed
  (``lib/python3.11/site-packages/x.py``): ``PrefixRecord.prefix_path`` maps one to the
  other. A record is kept as read (``raw``), so a rewrite changes only ``files`` and
  ``paths_data`` and leaves every other key conda wrote as it was.
- ``CondaManifest``: ``PREFIX/lean-install/conda/<stem>.json``, what a strip removed from
  one package (prefix-relative paths), the stubs it wrote, the profile, and the record's
  text before the strip (``original``).

Both ``lean_install.conda`` (which raises one error with every issue) and the on-miss
reserve inside a conda prefix's python (``conda_reserve``, which goes on with what it can
read) use these readers; like the rest of the runtime they import only the standard
library.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from . import layout
from .records import read_json
from .tables import Issue, Table

__all__ = [
    "CONDA_META",
    "MANIFEST_VERSION",
    "PathEntry",
    "PrefixRecord",
    "CondaManifest",
    "record_from_data",
    "record_from_text",
    "record_bytes",
    "record_path",
    "manifest_dir",
    "manifest_path",
]

CONDA_META = "conda-meta"
MANIFEST_VERSION = 2
_READ_VERSIONS = (1, MANIFEST_VERSION)  # version 2 added ``rewritten``
_SITE_PACKAGES = re.compile(r"^lib/python\d+\.\d+t?/site-packages/")


def record_path(prefix: str | os.PathLike[str], stem: str) -> Path:
    """``PREFIX/conda-meta/<stem>.json``."""
    return Path(prefix) / CONDA_META / f"{stem}.json"


def manifest_dir(prefix: str | os.PathLike[str]) -> Path:
    return Path(layout.state_path(prefix, "conda"))


def manifest_path(prefix: str | os.PathLike[str], stem: str) -> Path:
    return manifest_dir(prefix) / f"{stem}.json"


@dataclass(frozen=True, kw_only=True)
class PathEntry:
    """One entry of a record's ``paths_data.paths``."""

    path: str
    """``_path`` as recorded (package-relative for a ``noarch: python`` package)."""
    path_type: str = "hardlink"
    sha256: str = ""
    sha256_in_prefix: str = ""
    size_in_bytes: int | None = None
    file_mode: str = ""
    """``text`` or ``binary`` when conda replaced ``prefix_placeholder`` in it."""
    prefix_placeholder: str = ""
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False)

    @property
    def sha256_on_disk(self) -> str:
        """The sha256 the file has in the prefix: ``sha256_in_prefix``, else ``sha256``."""
        return self.sha256_in_prefix or ("" if self.prefix_placeholder else self.sha256)

    @classmethod
    def from_table(cls, t: Table) -> PathEntry:
        size = t.optional("size_in_bytes", int)
        return cls(
            path=t.get("_path", str),
            path_type=t.get("path_type", str, "hardlink"),
            sha256=t.get("sha256", str, ""),
            sha256_in_prefix=t.get("sha256_in_prefix", str, ""),
            size_in_bytes=size,
            file_mode=t.get("file_mode", str, ""),
            prefix_placeholder=t.get("prefix_placeholder", str, ""),
            raw=dict(t.data),
        )

    @classmethod
    def for_file(cls, path: str, sha256: str, size: int) -> PathEntry:
        """The entry of a file lean-install wrote (a stub): a plain file, no placeholder."""
        raw = {
            "_path": path,
            "path_type": "hardlink",
            "sha256": sha256,
            "sha256_in_prefix": sha256,
            "size_in_bytes": size,
        }
        return cls(path=path, sha256=sha256, sha256_in_prefix=sha256, size_in_bytes=size, raw=raw)


@dataclass(frozen=True, kw_only=True)
class PrefixRecord:
    """One ``conda-meta/*.json`` record of a prefix."""

    source: Path
    """The record file."""
    name: str
    version: str
    build: str
    channel: str = ""
    subdir: str = ""
    noarch: str = ""
    fn: str = ""
    url: str = ""
    extracted_package_dir: str = ""
    package_tarball_full_path: str = ""
    files: tuple[str, ...] = ()
    paths: tuple[PathEntry, ...] = ()
    paths_version: int = 1
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def prefix(self) -> Path:
        return self.source.parent.parent

    @property
    def stem(self) -> str:
        """``NAME-VERSION-BUILD``: how conda names the package (``conda doctor`` too)."""
        return self.source.name[: -len(".json")]

    @cached_property
    def site_packages(self) -> str:
        """Where ``site-packages/`` of a ``noarch: python`` package landed (prefix-relative,
        ``lib/python3.11/site-packages``); empty when no file says."""
        for path in self.files:
            match = _SITE_PACKAGES.match(path)
            if match:
                return match.group(0).rstrip("/")
        return ""

    def prefix_path(self, entry: PathEntry) -> str:
        """Where the file of ``entry`` is in the prefix (relative to it)."""
        if self.noarch == "python" and self.site_packages:
            if entry.path.startswith("site-packages/"):
                return self.site_packages + entry.path[len("site-packages") :]
            if entry.path.startswith("python-scripts/"):
                return "bin/" + entry.path[len("python-scripts/") :]
        return entry.path

    @cached_property
    def entries(self) -> dict[str, PathEntry]:
        """The ``paths_data`` entry of each file, by prefix path."""
        return {self.prefix_path(e): e for e in self.paths}

    def to_dict(self, files: Sequence[str], paths: Iterable[PathEntry]) -> dict[str, Any]:
        """This record as read, with ``files`` and ``paths_data.paths`` replaced."""
        data = dict(self.raw)
        data["files"] = list(files)
        paths_data = dict(data.get("paths_data") or {})
        paths_data["paths"] = [dict(e.raw) for e in paths]
        paths_data.setdefault("paths_version", self.paths_version)
        data["paths_data"] = paths_data
        return data


def record_from_data(path: str | os.PathLike[str], data: Any, issues: list[Issue]) -> PrefixRecord:
    """The record that the file ``path`` held as ``data`` (parsed JSON); its problems go to
    ``issues`` (a damaged record still gives a record, with defaults)."""
    if not isinstance(data, dict):
        issues.append(Issue("", f"expected a JSON object, got {type(data).__name__}"))
        data = {}
    t = Table(data, "", issues)
    files = t.strings("files", ())
    listed = data.get("files")
    for index, file in enumerate(listed if isinstance(listed, list) else ()):
        why = layout.unsafe_path_reason(file) if isinstance(file, str) else None
        if why:
            issues.append(Issue(f"files[{index}]", f"{file!r} {why}"))
    paths_data = t.table("paths_data", required=False)
    entries = tuple(PathEntry.from_table(e) for e in paths_data.tables("paths"))
    version = paths_data.get("paths_version", int, 1)
    record = PrefixRecord(
        source=Path(path),
        name=t.get("name", str),
        version=t.get("version", str),
        build=t.get("build", str),
        channel=t.get("channel", str, ""),
        subdir=t.get("subdir", str, ""),
        noarch=t.get("noarch", str, "") if isinstance(data.get("noarch"), str) else "",
        fn=t.get("fn", str, ""),
        url=t.get("url", str, ""),
        extracted_package_dir=t.get("extracted_package_dir", str, ""),
        package_tarball_full_path=t.get("package_tarball_full_path", str, ""),
        files=files,
        paths=entries,
        paths_version=version,
        raw=data,
    )
    for index, entry in enumerate(entries):
        why = layout.unsafe_path_reason(entry.path) if entry.path else None
        if why:
            issues.append(Issue(f"paths_data.paths[{index}]._path", f"{entry.path!r} {why}"))
    return record


def record_from_text(path: str | os.PathLike[str], text: str, issues: list[Issue]) -> PrefixRecord:
    """The record whose file ``path`` held ``text``; its problems go to ``issues``."""
    try:
        data = json.loads(text)
    except ValueError as exc:
        issues.append(Issue("", f"not valid JSON: {exc}"))
        data = {}
    return record_from_data(path, data, issues)


def record_bytes(data: Mapping[str, Any]) -> bytes:
    """A record as conda writes one (``json.dump`` with an indent of 2)."""
    return (json.dumps(data, indent=2, sort_keys=False) + "\n").encode()


@dataclass(frozen=True, kw_only=True)
class CondaManifest:
    """What a strip did to one conda package: ``PREFIX/lean-install/conda/<stem>.json``."""

    stem: str
    name: str
    profile: str = ""
    removed: tuple[str, ...] = ()
    stubs: tuple[str, ...] = ()
    original: str = ""
    """The text of the ``conda-meta`` record before the strip, as conda wrote it."""
    rewritten: tuple[str, ...] = ()
    """Kept libraries the strip wrote again smaller inside (``restore`` puts the originals
    back)."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "manifest-version": MANIFEST_VERSION,
            "stem": self.stem,
            "name": self.name,
            "profile": self.profile,
            "removed": list(self.removed),
            "stubs": list(self.stubs),
            "original": self.original,
            "rewritten": list(self.rewritten),
        }

    def dumps(self) -> bytes:
        return (json.dumps(self.to_dict(), indent=1) + "\n").encode()

    @classmethod
    def from_dict(cls, data: Any, issues: list[Issue]) -> CondaManifest:
        t = Table(data if isinstance(data, dict) else {}, "", issues)
        if not isinstance(data, dict):
            t.problem("", "expected a JSON object")
        if t.get("manifest-version", int, 0) not in _READ_VERSIONS:
            t.problem("manifest-version", f"expected {' or '.join(map(str, _READ_VERSIONS))}")
        manifest = cls(
            stem=t.get("stem", str),
            name=t.get("name", str),
            profile=t.get("profile", str, ""),
            removed=t.strings("removed", ()),
            stubs=t.strings("stubs", ()),
            original=t.get("original", str),
            rewritten=t.strings("rewritten", ()),
        )
        named = (("removed", manifest.removed), ("stubs", manifest.stubs))
        for key, paths in (*named, ("rewritten", manifest.rewritten)):
            for index, path in enumerate(paths):
                why = layout.unsafe_path_reason(path)
                if why:
                    issues.append(Issue(f"{key}[{index}]", why))
        return manifest

    @classmethod
    def read(cls, path: str | os.PathLike[str]) -> tuple[CondaManifest | None, list[Issue]]:
        """The manifest in ``path`` (None when there is none) and the problems found."""
        data, issues = read_json(os.fspath(path))
        if data is None:
            return None, issues
        return cls.from_dict(data, issues), issues

    def write(self, prefix: str | os.PathLike[str]) -> None:
        layout.write_atomically(manifest_path(prefix, self.stem), self.dumps())
