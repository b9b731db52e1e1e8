"""What planning knows of a wheel's files without their bytes, and that listing indexed.

``WheelListing`` holds a wheel's members and sizes, its ``.dist-info``, its entry points
and the dynamic facts of its shared libraries (``dynlib.Dynamic``, read on first use:
reading one inflates the library). ``Contents`` indexes a listing by installed path, by
module, by package ``__init__`` and by category (``classify.Classifier``), the way the
planner asks.

Members under ``<name>.data/purelib`` and ``platlib`` install into site-packages and are
indexed by that path, which is how profiles write them; other ``.data`` members install
outside it, where no profile sees them: their *tree path* (where shared-library
resolution finds them) is their member path.
"""

from __future__ import annotations

import zipfile
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from packaging.utils import NormalizedName

from lean_install.classify import Classifier
from lean_install.runtime import dynlib, layout

__all__ = ["WheelListing", "LazyDynamic", "Contents", "entry_point_modules", "top_level_modules"]


@dataclass(frozen=True, kw_only=True)
class WheelListing:
    """A wheel's files (as RECORD writes them) and sizes, without their bytes."""

    dist_info: str
    members: Mapping[str, int]
    dynamic: Mapping[str, dynlib.Dynamic] = field(default_factory=dict)
    """The dynamic facts of each ELF shared object member (lazily read where possible)."""
    entry_points: str = ""
    """The text of ``entry_points.txt`` (empty if none)."""

    @property
    def data_prefix(self) -> str:
        return layout.data_prefix(self.dist_info)

    def tree_path(self, member: str) -> str:
        """Where ``member`` lands for shared-library resolution (see the module docstring)."""
        installed = layout.installed_path(member, self.data_prefix)
        return member if installed is None else installed


class LazyDynamic(Mapping[str, dynlib.Dynamic]):
    """The dynamic facts of each shared-object member, read from the wheel on first access.

    Reading one inflates the member up to its dynamic section (near its end, in most
    libraries), so a plan that never asks about a library never pays for it. ``known``
    holds facts read before (by lean-install's cache); ``read`` says what was read here.
    """

    def __init__(
        self, path: Path, names: Iterable[str], known: Mapping[str, dynlib.Dynamic] | None = None
    ) -> None:
        self._path = path
        self._names = dict.fromkeys(names)
        self._known: dict[str, dynlib.Dynamic] = {
            n: d for n, d in (known or {}).items() if n in self._names
        }
        self.read: dict[str, dynlib.Dynamic] = {}

    def __getitem__(self, name: str) -> dynlib.Dynamic:
        if name not in self._names:
            raise KeyError(name)
        if name not in self._known:
            with zipfile.ZipFile(self._path) as archive, archive.open(name) as member:
                self._known[name] = self.read[name] = dynlib.read_dynamic(member)
        return self._known[name]

    def __contains__(self, name: object) -> bool:
        return name in self._names

    def __iter__(self) -> Iterator[str]:
        return iter(self._names)

    def __len__(self) -> int:
        return len(self._names)


def entry_point_modules(text: str) -> set[str]:
    """The modules that entry points (every group, console scripts included) point to."""
    modules = set()
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith(("#", ";", "[")) or "=" not in line:
            continue
        target = line.split("=", 1)[1].split(":", 1)[0].split("[", 1)[0].strip()
        if target and all(part.isidentifier() for part in target.split(".")):
            modules.add(target)
    return modules


class Contents:
    """A listing indexed for planning: by installed path, module, package and category."""

    def __init__(self, listing: WheelListing, name: NormalizedName) -> None:
        self.listing = listing
        self.name = name
        data = listing.data_prefix
        self.scripts_prefix = data + "scripts/"
        self.dist_info_prefix = listing.dist_info + "/"
        self.installed: dict[str, str] = {}
        self.outside: set[str] = set()
        for member in listing.members:
            path = layout.installed_path(member, data)
            self.installed[member] = member if path is None else path
            if path is None:
                self.outside.add(member)
        self.by_installed = {i: m for m, i in self.installed.items() if m not in self.outside}
        self.module_of: dict[str, str] = {}
        self.modules: dict[str, list[str]] = {}
        self.inits: dict[str, list[str]] = {}
        for member, path in self.installed.items():
            if member.startswith(self.dist_info_prefix) or member in self.outside:
                continue
            module = layout.module_name(path)
            if module is not None:
                self.module_of[member] = module
                self.modules.setdefault(module, []).append(member)
                if path.rsplit("/", 1)[-1].startswith("__init__."):
                    self.inits.setdefault(module.replace(".", "/"), []).append(member)
        self.classifier = Classifier(name, listing.members, listing.dist_info)

    def lookup(self, path: str) -> list[str]:
        """The members a profile path names (a ``.pyc`` names its source too)."""
        candidates = (path, layout.source_of_bytecode(path))
        return [self.by_installed[p] for p in candidates if p in self.by_installed]

    def members_of(self, module: str) -> list[str]:
        return self.modules.get(module, [])

    def module_at(self, path: str) -> str | None:
        return layout.module_name(path)  # a profile writes site-packages paths

    def removable(self, member: str) -> bool:
        return self.classifier.removable(member)

    def init_chain(self, member: str) -> list[str]:
        """The ``__init__`` files of every package ``member`` sits in."""
        out: list[str] = []
        parts = self.installed[member].split("/")[:-1]
        for depth in range(1, len(parts) + 1):
            out.extend(self.inits.get("/".join(parts[:depth]), ()))
        return out

    def always_kept(self) -> set[str]:
        """.dist-info, scripts, ``.pth`` and top-level files, entry-point targets."""
        keep = {
            m
            for m, path in self.installed.items()
            if m.startswith((self.dist_info_prefix, self.scripts_prefix))
            or (m not in self.outside and ("/" not in path or path.endswith(".pth")))
        }
        for module in entry_point_modules(self.listing.entry_points):
            keep.update(self.members_of(module))
        return keep

    def is_library(self, member: str) -> bool:
        return member in self.listing.dynamic


def top_level_modules(names: Iterable[str]) -> tuple[str, ...]:
    """The modules a stub distribution stands for, from its wheel's member names.

    Top-level modules and packages (``yaml`` for PyYAML, ``sklearn`` for scikit-learn);
    for a namespace directory (no ``__init__.py``: ``google``), the packages inside it
    (``google.protobuf``), so that a stub never takes a namespace shared with others.
    ``.dist-info`` and ``.data`` are left out.
    """
    files = {name for name in names if not name.endswith("/")}
    found: set[str] = set()
    for name in files:
        head = name.split("/", 1)[0]
        if head.endswith((".dist-info", ".data")):
            continue
        found.add(_topmost_package(name, files))
    return tuple(sorted(m for m in found if m and all(p.isidentifier() for p in m.split("."))))


def _topmost_package(name: str, files: set[str]) -> str:
    """The outermost regular package (or top-level module) that ``name`` belongs to."""
    parts = name.split("/")
    if len(parts) == 1:
        return parts[0].split(".", 1)[0] if parts[0].endswith((".py", ".so", ".pyd")) else ""
    for depth in range(1, len(parts)):
        if "/".join(parts[:depth]) + "/__init__.py" in files:
            return ".".join(parts[:depth])
    return ""  # files of a namespace with no package inside: nothing to stand for
