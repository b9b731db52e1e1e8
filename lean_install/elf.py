"""ELF shared objects: what each one needs (``DT_NEEDED``) and the closure of what is kept.

A shared library kept by the plan must keep every library of its wheel that it needs,
directly or through another kept library: ``closure`` follows ``DT_NEEDED`` sonames to
wheel members by file name, the way auditwheel lays wheels out (a soname equals the
file name of the bundled copy: ``torch/lib/libc10.so``,
``numpy.libs/libscipy_openblas64_-ff651d7f.so``, ``libgomp.so.1``).
"""

from __future__ import annotations

import io
import posixpath
import re
from collections import deque
from collections.abc import Iterable, Mapping
from typing import IO

from elftools.elf.dynamic import DynamicSegment
from elftools.elf.elffile import ELFFile

__all__ = ["ELF_MAGIC", "is_shared_object_name", "needed", "closure"]

ELF_MAGIC = b"\x7fELF"

_SHARED_OBJECT = re.compile(r"\.so(\.[0-9]+)*$")


def is_shared_object_name(path: str) -> bool:
    """Whether ``path`` is named like a shared object: ``x.so``, ``libfoo.so.1``, ``y.so.1.2``."""
    return _SHARED_OBJECT.search(path) is not None


def needed(data: bytes | IO[bytes]) -> tuple[str, ...]:
    """The ``DT_NEEDED`` sonames of an ELF object, in order; ``()`` for anything else.

    ``data`` is the whole file, as bytes or as a seekable binary stream holding the ELF
    image from offset 0. Garbage, truncated or non-ELF input gives ``()``: never an error.
    """
    stream = io.BytesIO(data) if isinstance(data, bytes | bytearray | memoryview) else data
    try:
        stream.seek(0)
        if stream.read(4) != ELF_MAGIC:
            return ()
        return _dynamic_needed(ELFFile(stream))
    except Exception:  # pyelftools raises many types (ELFError, struct/construct errors,
        return ()  # ValueError, KeyError, ...) on malformed input; all mean "not readable".


def _dynamic_needed(elf: ELFFile) -> tuple[str, ...]:
    names: list[str] = []
    for segment in elf.iter_segments():
        if not isinstance(segment, DynamicSegment):
            continue
        for tag in segment.iter_tags():
            # pyelftools sets ``needed`` on DT_NEEDED tags only, dynamically.
            soname = getattr(tag, "needed", None) if tag.entry.d_tag == "DT_NEEDED" else None
            if isinstance(soname, str) and soname not in names:
                names.append(soname)
    return tuple(names)


def closure(roots: Iterable[str], needed: Mapping[str, tuple[str, ...]]) -> set[str]:
    """``roots`` plus every member they need, transitively.

    ``roots`` are wheel member paths of kept shared objects; ``needed`` maps every ELF
    member of the wheel to its ``DT_NEEDED`` sonames. A soname resolves to every member
    whose file name equals it (all of them when several directories hold one: keeping
    too much is safe, dropping a needed library is not). Sonames no member provides
    (``libc.so.6``, system libraries) are ignored.
    """
    by_name: dict[str, list[str]] = {}
    for member in needed:
        by_name.setdefault(posixpath.basename(member), []).append(member)
    kept: set[str] = set()
    queue = deque(roots)
    while queue:
        member = queue.popleft()
        if member in kept:
            continue
        kept.add(member)
        for soname in needed.get(member, ()):
            queue.extend(by_name.get(soname, ()))
    return kept
