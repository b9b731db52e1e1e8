"""The manifest of a stripped conda package: ``PREFIX/lean-install/conda/<stem>.json``.

It keeps what the strip removed (prefix-relative paths), the stubs it wrote, the profile
it followed, and the package's record as conda wrote it before the strip (``original``):
``restore`` puts that record back once the files are back. It lives outside
``conda-meta`` (conda reads every ``*.json`` there as a record).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lean_install.errors import Issue, RecordError
from lean_install.runtime import layout
from lean_install.runtime.records import read_json
from lean_install.runtime.tables import Table

__all__ = ["MANIFEST_VERSION", "Manifest", "manifest_dir", "manifest_path", "read_manifests"]

MANIFEST_VERSION = 1


def manifest_dir(prefix: str | os.PathLike[str]) -> Path:
    return Path(layout.state_path(prefix, "conda"))


def manifest_path(prefix: str | os.PathLike[str], stem: str) -> Path:
    return manifest_dir(prefix) / f"{stem}.json"


@dataclass(frozen=True, kw_only=True)
class Manifest:
    stem: str
    name: str
    profile: str = ""
    removed: tuple[str, ...] = ()
    stubs: tuple[str, ...] = ()
    original: str = ""
    """The text of the ``conda-meta`` record before the strip, as conda wrote it."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "manifest-version": MANIFEST_VERSION,
            "stem": self.stem,
            "name": self.name,
            "profile": self.profile,
            "removed": list(self.removed),
            "stubs": list(self.stubs),
            "original": self.original,
        }

    def dumps(self) -> bytes:
        return (json.dumps(self.to_dict(), indent=1) + "\n").encode()

    @classmethod
    def from_dict(cls, data: Any, source: str) -> Manifest:
        issues: list[Issue] = []
        t = Table(data if isinstance(data, dict) else {}, "", issues)
        if not isinstance(data, dict):
            t.problem("", "expected a JSON object")
        if t.get("manifest-version", int, 0) != MANIFEST_VERSION:
            t.problem("manifest-version", f"expected {MANIFEST_VERSION}")
        manifest = cls(
            stem=t.get("stem", str),
            name=t.get("name", str),
            profile=t.get("profile", str, ""),
            removed=t.strings("removed", ()),
            stubs=t.strings("stubs", ()),
            original=t.get("original", str),
        )
        for key, paths in (("removed", manifest.removed), ("stubs", manifest.stubs)):
            for index, path in enumerate(paths):
                why = layout.unsafe_path_reason(path)
                if why:
                    issues.append(Issue(f"{key}[{index}]", why))
        if issues:
            raise RecordError(
                source, issues, hint="lean-install wrote this manifest; it cannot restore from it"
            )
        return manifest

    @classmethod
    def read(cls, path: str | os.PathLike[str]) -> Manifest | None:
        data, issues = read_json(os.fspath(path))
        if issues:
            raise RecordError(os.fspath(path), issues)
        return None if data is None else cls.from_dict(data, os.fspath(path))

    def write(self, prefix: str | os.PathLike[str]) -> None:
        layout.write_atomically(manifest_path(prefix, self.stem), self.dumps())


def read_manifests(prefix: str | os.PathLike[str]) -> dict[str, Manifest]:
    """Every manifest of ``prefix``, by package stem."""
    found = {}
    directory = manifest_dir(prefix)
    if directory.is_dir():
        for path in sorted(directory.glob("*.json")):
            manifest = Manifest.read(path)
            if manifest is not None:
                found[manifest.stem] = manifest
    return found
