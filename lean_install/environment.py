"""An installed Python environment: its interpreter, its site-packages, its distributions.

The target interpreter may not be the one running lean-install (``--python``), so it is
asked to describe itself once, in a subprocess; everything else is read from files.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Literal, cast

from packaging.utils import NormalizedName, canonicalize_name

from lean_install.errors import EnvironmentInspectionError
from lean_install.runtime import layout

__all__ = [
    "PrefixKind",
    "RecordEntry",
    "InstalledDistribution",
    "Environment",
    "DESCRIBE_SCRIPT",
    "read_record",
]

PrefixKind = Literal["venv", "conda", "system"]

DESCRIBE_SCRIPT = r"""
import json, os, platform, site, sys, sysconfig
paths = sysconfig.get_paths()
dirs = [paths["purelib"], paths["platlib"]]
try:
    dirs += site.getsitepackages()
except AttributeError:
    pass
if site.ENABLE_USER_SITE and os.path.isdir(site.getusersitepackages()):
    dirs.append(site.getusersitepackages())
seen = []
for d in dirs:
    d = os.path.normpath(d)
    if d not in seen and os.path.isdir(d):
        seen.append(d)
def full_version(info):
    version = "{0.major}.{0.minor}.{0.micro}".format(info)
    if info.releaselevel != "final":
        version += info.releaselevel[0] + str(info.serial)
    return version
markers = {
    "implementation_name": sys.implementation.name,
    "implementation_version": full_version(sys.implementation.version),
    "os_name": os.name,
    "platform_machine": platform.machine(),
    "platform_release": platform.release(),
    "platform_system": platform.system(),
    "platform_version": platform.version(),
    "python_full_version": platform.python_version(),
    "platform_python_implementation": platform.python_implementation(),
    "python_version": ".".join(platform.python_version_tuple()[:2]),
    "sys_platform": sys.platform,
}
if os.path.isdir(os.path.join(sys.prefix, "conda-meta")):
    kind = "conda"
elif sys.prefix != sys.base_prefix:
    kind = "venv"
else:
    kind = "system"
print(json.dumps({
    "executable": sys.executable,
    "python": platform.python_version(),
    "implementation": sys.implementation.name,
    "platform": sysconfig.get_platform(),
    "prefix": sys.prefix,
    "base-prefix": sys.base_prefix,
    "prefix-kind": kind,
    "site-packages": seen,
    "stdlib": sorted({os.path.normpath(paths["stdlib"]), os.path.normpath(paths["platstdlib"])}),
    "scripts": paths["scripts"],
    "cache-tag": sys.implementation.cache_tag or "",
    "markers": markers,
}))
"""


@dataclass(frozen=True)
class RecordEntry:
    """One line of a RECORD: a path relative to the install root, its hash and size."""

    path: str
    hash: str = ""
    size: int | None = None


def read_record(text: str) -> list[RecordEntry]:
    return [
        RecordEntry(path, digest, int(size) if size.isdigit() else None)
        for path, digest, size in layout.parse_record(text)
    ]


@dataclass(frozen=True)
class InstalledDistribution:
    """A distribution installed under ``root`` (a site-packages directory)."""

    name: NormalizedName
    version: str
    root: Path
    dist_info: str
    """The ``.dist-info`` directory name, relative to ``root``."""

    @cached_property
    def record(self) -> list[RecordEntry]:
        try:
            text = (self.root / self.dist_info / "RECORD").read_text(encoding="utf-8")
        except OSError:
            return []
        return read_record(text)

    @cached_property
    def files(self) -> tuple[str, ...]:
        return tuple(entry.path for entry in self.record)

    @cached_property
    def file_set(self) -> frozenset[str]:
        return frozenset(self.files)

    def absolute(self, record_path: str) -> Path:
        return Path(os.path.normpath(self.root / record_path))

    def is_metadata(self, record_path: str) -> bool:
        return record_path.split("/", 1)[0] == self.dist_info

    def entry_points(self) -> str:
        try:
            return (self.root / self.dist_info / "entry_points.txt").read_text(encoding="utf-8")
        except OSError:
            return ""


@dataclass(frozen=True, kw_only=True)
class Environment:
    """A Python environment, as its interpreter describes it."""

    executable: str
    python: str
    implementation: str
    platform: str
    prefix: Path
    base_prefix: Path
    prefix_kind: PrefixKind
    site_packages: tuple[Path, ...]
    stdlib: tuple[Path, ...]
    scripts: Path
    cache_tag: str = ""
    """``cpython-311``: the tag of its bytecode files."""
    markers: dict[str, str] = field(default_factory=dict)
    """Its environment marker values (PEP 508)."""
    _owners: dict[str, tuple[InstalledDistribution, str]] = field(
        default_factory=dict, repr=False, compare=False
    )

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Environment:
        return cls(
            executable=data["executable"],
            python=data["python"],
            implementation=data["implementation"],
            platform=data["platform"],
            prefix=Path(data["prefix"]),
            base_prefix=Path(data["base-prefix"]),
            prefix_kind=cast(PrefixKind, data["prefix-kind"]),
            site_packages=tuple(Path(p) for p in data["site-packages"]),
            stdlib=tuple(Path(p) for p in data["stdlib"]),
            scripts=Path(data["scripts"]),
            cache_tag=str(data.get("cache-tag", "")),
            markers={str(k): str(v) for k, v in data.get("markers", {}).items()},
        )

    @classmethod
    def inspect(cls, python: str | os.PathLike[str] | None = None) -> Environment:
        """Describe the environment of ``python`` (default: the one running lean-install)."""
        exe = os.fspath(python) if python else sys.executable
        try:
            out = subprocess.run(
                [exe, "-I", "-c", DESCRIBE_SCRIPT],
                capture_output=True,
                text=True,
                check=True,
                timeout=60,
            ).stdout
            return cls.from_dict(json.loads(out))
        except FileNotFoundError:
            raise EnvironmentInspectionError(exe, "no such interpreter") from None
        except PermissionError:
            raise EnvironmentInspectionError(exe, "not executable") from None
        except subprocess.CalledProcessError as exc:
            detail = (exc.stderr or "").strip().splitlines()[-1:] or [f"exit {exc.returncode}"]
            raise EnvironmentInspectionError(exe, detail[0]) from None
        except (subprocess.TimeoutExpired, json.JSONDecodeError, KeyError) as exc:
            raise EnvironmentInspectionError(exe, f"unexpected answer ({exc})") from None

    def to_dict(self) -> dict[str, Any]:
        return {
            "executable": self.executable,
            "python": self.python,
            "implementation": self.implementation,
            "platform": self.platform,
            "prefix": str(self.prefix),
            "base-prefix": str(self.base_prefix),
            "prefix-kind": self.prefix_kind,
            "site-packages": [str(p) for p in self.site_packages],
            "stdlib": [str(p) for p in self.stdlib],
            "scripts": str(self.scripts),
            "cache-tag": self.cache_tag,
            "markers": dict(self.markers),
        }

    @property
    def purelib(self) -> Path:
        return self.site_packages[0]

    def distributions(self) -> Iterator[InstalledDistribution]:
        """Every distribution with a ``.dist-info`` in a site-packages of this environment.

        The first one found on the path wins when a name is installed twice, as in
        ``importlib.metadata``.
        """
        seen: set[str] = set()
        for root in self.site_packages:
            try:
                names = sorted(os.listdir(root))
            except OSError:
                continue
            for entry in names:
                if not entry.endswith(".dist-info"):
                    continue
                stem = entry[: -len(".dist-info")]
                name, _, version = stem.partition("-")
                key = canonicalize_name(name)
                if key in seen or not version:
                    continue
                seen.add(key)
                yield InstalledDistribution(key, version, root, entry)

    def distribution(self, name: str) -> InstalledDistribution | None:
        key = canonicalize_name(name)
        return next((d for d in self.distributions() if d.name == key), None)

    def owners(self) -> dict[str, tuple[InstalledDistribution, str]]:
        """Map every installed file's normalized absolute path to (distribution, RECORD path)."""
        if not self._owners:
            for dist in self.distributions():
                for path in dist.files:
                    absolute = os.path.normpath(os.path.join(dist.root, path))
                    self._owners.setdefault(absolute, (dist, path))
        return self._owners

    def owner(self, path: str) -> tuple[InstalledDistribution, str] | None:
        """Which distribution installed ``path`` (an absolute path), if any."""
        owners = self.owners()
        normal = os.path.normpath(path)
        found = owners.get(normal)
        if found is None and os.path.islink(normal) is False:
            real = os.path.realpath(normal)
            if real != normal:
                found = owners.get(real)
        return found

    def is_stdlib(self, path: str) -> bool:
        normal = os.path.normpath(path)
        if any(normal.startswith(str(sp) + os.sep) for sp in self.site_packages):
            return False
        return any(normal.startswith(str(lib) + os.sep) for lib in self.stdlib)
