"""Shared libraries: what an ELF object needs, and where the dynamic loader finds it.

``read_dynamic`` reads the dynamic section of an ELF file (32 or 64 bit, either byte
order) through positional reads: the ELF header, the program headers, the dynamic
segment and the string table, a few KiB even for a 434 MB library. It gives the
``DT_NEEDED`` sonames, ``DT_RUNPATH`` / ``DT_RPATH`` and ``DT_SONAME``; anything that is
not ELF, or is malformed, gives an empty ``Dynamic``, never an error.

``Libraries`` indexes the files of an install tree (site-packages, a conda prefix) and
resolves a soname needed by one of them as the loader would within that tree: through
``DT_RPATH`` (when there is no ``DT_RUNPATH``) and ``DT_RUNPATH``, with ``$ORIGIN``
expanded to the needing library's directory (``torch/lib`` with
``$ORIGIN/../../nvidia/cudnn/lib`` finds ``nvidia/cudnn/lib/libcudnn.so.9``), then, as
auditwheel lays wheels out, by file name anywhere in the tree. Sonames no file of the
tree provides (``libc.so.6``, the CUDA driver) are the system's.
"""

from __future__ import annotations

import posixpath
import re
import struct
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import IO

__all__ = [
    "ELF_MAGIC",
    "Dynamic",
    "is_shared_object_name",
    "read_dynamic",
    "Libraries",
    "closure",
    "needs_map",
]

ELF_MAGIC = b"\x7fELF"
_SHARED_OBJECT = re.compile(r"\.so(\.[0-9]+)*$")
_MAX_STRING = 4096
_MAX_PROGRAM_HEADERS = 4096
_MAX_DYNAMIC_ENTRIES = 65536
_PT_LOAD, _PT_DYNAMIC = 1, 2
_DT_NULL, _DT_NEEDED, _DT_STRTAB, _DT_SONAME, _DT_RPATH, _DT_RUNPATH = 0, 1, 5, 14, 15, 29

ReadAt = Callable[[int, int], bytes]
"""``read_at(offset, size)``: up to ``size`` bytes of the file from ``offset``."""


@dataclass(frozen=True)
class Dynamic:
    """The dynamic section's facts the loader acts on (empty for non-ELF input)."""

    needed: tuple[str, ...] = ()
    runpath: tuple[str, ...] = ()
    rpath: tuple[str, ...] = ()
    soname: str = ""

    @property
    def search_path(self) -> tuple[str, ...]:
        """Directories searched before the system's: RPATH only when there is no RUNPATH."""
        return self.runpath if self.runpath else self.rpath


def is_shared_object_name(path: str) -> bool:
    """Whether ``path`` is named like a shared object: ``x.so``, ``libfoo.so.1``, ``y.so.1.2``."""
    return _SHARED_OBJECT.search(path) is not None


def read_dynamic(source: bytes | bytearray | memoryview | IO[bytes] | ReadAt) -> Dynamic:
    """The dynamic facts of the ELF image in ``source`` (bytes, a seekable binary file
    holding the image from offset 0, or a ``read_at`` function)."""
    read_at = _reader(source)
    try:
        return _read(read_at)
    except (struct.error, ValueError, IndexError, OSError, EOFError, UnicodeDecodeError):
        return Dynamic()


def _reader(source: bytes | bytearray | memoryview | IO[bytes] | ReadAt) -> ReadAt:
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
        return lambda offset, size: data[offset : offset + size]
    if callable(source):
        return source
    stream = source

    def read_at(offset: int, size: int) -> bytes:
        stream.seek(offset)
        return stream.read(size)

    return read_at


def _read(read_at: ReadAt) -> Dynamic:
    head = read_at(0, 64)
    if head[:4] != ELF_MAGIC or len(head) < 52:
        return Dynamic()
    wide, order = head[4] == 2, "<" if head[5] == 1 else ">"
    if wide:
        phoff = struct.unpack_from(order + "Q", head, 32)[0]
        phentsize, phnum = struct.unpack_from(order + "HH", head, 54)
        segment, entry = struct.Struct(order + "IIQQQQQQ"), struct.Struct(order + "qQ")
    else:
        phoff = struct.unpack_from(order + "I", head, 28)[0]
        phentsize, phnum = struct.unpack_from(order + "HH", head, 42)
        segment, entry = struct.Struct(order + "IIIIIIII"), struct.Struct(order + "iI")
    if phnum > _MAX_PROGRAM_HEADERS or phentsize < segment.size:
        return Dynamic()
    table = read_at(phoff, phentsize * phnum)
    loads, dynamic = [], None
    for i in range(phnum):
        fields = segment.unpack_from(table, i * phentsize)
        if wide:
            kind, offset, vaddr, filesz = fields[0], fields[2], fields[3], fields[5]
        else:
            kind, offset, vaddr, filesz = fields[0], fields[1], fields[2], fields[4]
        if kind == _PT_LOAD:
            loads.append((vaddr, offset, filesz))
        elif kind == _PT_DYNAMIC:
            dynamic = (offset, min(filesz, _MAX_DYNAMIC_ENTRIES * entry.size))
    if dynamic is None:
        return Dynamic()
    return _entries(read_at, read_at(*dynamic), entry, loads)


def _entries(
    read_at: ReadAt, data: bytes, entry: struct.Struct, loads: list[tuple[int, int, int]]
) -> Dynamic:
    values: dict[int, list[int]] = {}
    strtab = None
    for position in range(0, len(data) - entry.size + 1, entry.size):
        tag, value = entry.unpack_from(data, position)
        if tag == _DT_NULL:
            break
        if tag == _DT_STRTAB:
            strtab = next((value - v + o for v, o, size in loads if v <= value < v + size), None)
        elif tag in (_DT_NEEDED, _DT_SONAME, _DT_RPATH, _DT_RUNPATH):
            values.setdefault(tag, []).append(value)
    if strtab is None:
        return Dynamic()

    def string(offset: int) -> str:
        raw = read_at(strtab + offset, _MAX_STRING)
        end = raw.find(b"\0")
        if end < 0:
            raise ValueError("unterminated string")
        return raw[:end].decode("utf-8")

    def paths(tag: int) -> tuple[str, ...]:
        return tuple(p for v in values.get(tag, ()) for p in string(v).split(":") if p)

    needed = tuple(dict.fromkeys(string(v) for v in values.get(_DT_NEEDED, ())))
    sonames = [string(v) for v in values.get(_DT_SONAME, ())]
    return Dynamic(needed, paths(_DT_RUNPATH), paths(_DT_RPATH), sonames[0] if sonames else "")


# -- resolution within a tree ---------------------------------------------------------------


def _expand(entry: str, origin: str) -> str | None:
    """A run path entry as a tree-relative directory; None if it leaves the tree or names
    something only the loader knows (``$LIB``, ``$PLATFORM``, an absolute path)."""
    for spelling in ("${ORIGIN}", "$ORIGIN"):
        if entry.startswith(spelling):
            entry = origin + entry[len(spelling) :] if origin else entry[len(spelling) + 1 :]
            break
    else:
        return None
    if "$" in entry:
        return None
    normal = posixpath.normpath(entry) if entry else "."
    if normal == ".." or normal.startswith("../") or normal.startswith("/"):
        return None
    return "" if normal == "." else normal


@dataclass
class Libraries:
    """The files of one install tree (tree-relative POSIX paths), for soname resolution."""

    paths: Iterable[str]
    _by_name: dict[str, list[str]] = field(default_factory=dict, init=False, repr=False)
    _all: set[str] = field(default_factory=set, init=False, repr=False)

    def __post_init__(self) -> None:
        for path in self.paths:
            self.add(path)

    def add(self, path: str) -> None:
        if path not in self._all:
            self._all.add(path)
            self._by_name.setdefault(posixpath.basename(path), []).append(path)

    def __contains__(self, path: object) -> bool:
        return path in self._all

    def resolve(self, soname: str, library: str, dynamic: Dynamic) -> tuple[str, ...]:
        """The files of the tree that ``library`` (a tree path) may load for ``soname``.

        Its run path first; else every file of that name in the tree, else files named
        ``<soname>.<more>`` (``libfoo.so.1`` -> ``libfoo.so.1.2``): keeping too much is
        safe, dropping a needed library is not. Empty: the system's library.
        """
        if "/" in soname:  # a path, as some libraries record it: relative to the tree
            return (soname,) if soname in self._all else ()
        origin = posixpath.dirname(library)
        for entry in dynamic.search_path:
            directory = _expand(entry, origin)
            if directory is None:
                continue
            candidate = f"{directory}/{soname}" if directory else soname
            if candidate in self._all:
                return (candidate,)
        if soname in self._by_name:
            return tuple(self._by_name[soname])
        prefix = soname + "."
        return tuple(p for name, ps in self._by_name.items() if name.startswith(prefix) for p in ps)


def closure(roots: Iterable[str], needs: Callable[[str], Iterable[str]]) -> set[str]:
    """``roots`` and everything ``needs`` says they need, transitively."""
    kept: set[str] = set()
    queue = deque(roots)
    while queue:
        item = queue.popleft()
        if item in kept:
            continue
        kept.add(item)
        queue.extend(n for n in needs(item) if n not in kept)
    return kept


def needs_map(dynamics: Mapping[str, Dynamic], libraries: Libraries) -> dict[str, tuple[str, ...]]:
    """For every library of ``dynamics``, the tree files its sonames resolve to."""
    return {
        path: tuple(p for soname in d.needed for p in libraries.resolve(soname, path, d))
        for path, d in dynamics.items()
    }
