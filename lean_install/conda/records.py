"""The records of a conda prefix: ``conda-meta/<name>-<version>-<build>.json``.

conda writes one record per installed package (conda 26: ``PrefixRecord``): the package's
identity (name, version, build, channel, subdir), where it came from (``fn``, ``url``, and
in the package cache ``package_tarball_full_path`` and ``extracted_package_dir``), the
prefix-relative ``files`` it installed, and ``paths_data`` (``paths_version`` 1): per file
its ``_path``, ``path_type`` (``hardlink``, ``softlink``, ``directory``, ``pyc_file``,
...), the package's ``sha256`` and ``size_in_bytes``, and ``sha256_in_prefix`` (after a
prefix placeholder was replaced). For a ``noarch: python`` package ``_path`` stays the
package's own (``site-packages/x.py``) while ``files`` has where it landed
(``lib/python3.11/site-packages/x.py``): ``PrefixRecord.prefix_path`` maps one to the
other.

A record is read whole and kept as read (``raw``), so a rewrite changes only ``files`` and
``paths_data`` and leaves every other key conda wrote as it was.
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

from lean_install.errors import CondaPrefixError, Issue, RecordError
from lean_install.runtime import layout
from lean_install.runtime.records import read_json
from lean_install.runtime.tables import Table

__all__ = [
    "CONDA_META",
    "PathEntry",
    "PrefixRecord",
    "conda_meta",
    "is_conda_prefix",
    "read_record",
    "parse_record",
    "read_prefix",
    "record_bytes",
    "write_record",
]

CONDA_META = "conda-meta"
_SITE_PACKAGES = re.compile(r"^lib/python\d+\.\d+t?/site-packages/")


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


def conda_meta(prefix: str | os.PathLike[str]) -> Path:
    """``PREFIX/conda-meta``; a CondaPrefixError when ``prefix`` is not a conda prefix."""
    meta = Path(prefix) / CONDA_META
    if not meta.is_dir():
        what = "does not exist" if not Path(prefix).exists() else "has no conda-meta directory"
        raise CondaPrefixError(
            f"{prefix} is not a conda prefix: it {what}",
            hint="give the prefix of a conda environment (conda lean strip -p PREFIX, or "
            "-n NAME), or use lean-install install for a venv",
        )
    return meta


def is_conda_prefix(prefix: str | os.PathLike[str]) -> bool:
    return (Path(prefix) / CONDA_META).is_dir()


def _from_data(path: Path, data: Any, issues: list[Issue]) -> PrefixRecord:
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
        source=path,
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


def _damaged(source: str, issues: Sequence[Issue]) -> RecordError:
    return RecordError(
        source,
        issues,
        hint="conda wrote this record; reinstall the package with conda "
        "(conda install --force-reinstall NAME) or remove the file if the package is gone",
    )


def read_record(path: str | os.PathLike[str]) -> PrefixRecord:
    """The record in ``path``; a RecordError with every problem found in it."""
    path = Path(path)
    data, issues = read_json(str(path))
    if data is None and not issues:
        issues = [Issue("", "no such file")]
    record = _from_data(path, data, issues)
    if issues:
        raise _damaged(str(path), issues)
    return record


def parse_record(path: str | os.PathLike[str], text: str) -> PrefixRecord:
    """The record whose file ``path`` held ``text``; a RecordError if it is damaged."""
    issues: list[Issue] = []
    try:
        data = json.loads(text)
    except ValueError as exc:
        data, issues = None, [Issue("", f"not valid JSON: {exc}")]
    record = _from_data(Path(path), data, issues)
    if issues:
        raise _damaged(os.fspath(path), issues)
    return record


def read_prefix(prefix: str | os.PathLike[str]) -> tuple[PrefixRecord, ...]:
    """Every record of ``prefix``, by file name; one RecordError naming every damaged one."""
    meta = conda_meta(prefix)
    records, problems = [], []
    for path in sorted(meta.glob("*.json")):
        data, issues = read_json(str(path))
        record = _from_data(path, data, issues)
        if issues:
            problems += [
                Issue(f"{path.name}: {i.where}" if i.where else path.name, i.what) for i in issues
            ]
        else:
            records.append(record)
    if problems:
        raise _damaged(str(meta), problems)
    return tuple(records)


def record_bytes(data: Mapping[str, Any]) -> bytes:
    """A record as conda writes one (``json.dump`` with an indent of 2)."""
    return (json.dumps(data, indent=2, sort_keys=False) + "\n").encode()


def write_record(path: str | os.PathLike[str], data: Mapping[str, Any]) -> None:
    """Replace the record at ``path`` atomically (fsync'ed): conda reads the old or the new."""
    layout.write_atomically(path, record_bytes(data))
