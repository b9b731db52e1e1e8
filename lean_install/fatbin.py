"""GPU architecture pruning: a shared library's fatbins keep the code for the GPUs in use.

A CUDA library carries its kernels in fatbin containers in its ``.nv_fatbin`` section, one
per translation unit, each holding the same kernels built for several GPU architectures
(cubins, ELF files for one ``sm_XY`` each) and sometimes as PTX, which newer GPUs compile
when they load it. torch 2.14.1's ``libtorch_cuda.so`` (503 MB) holds 332 MB of cubins for
nine architectures.

``prune`` keeps, in every container, the cubins each listed architecture would load (for
``sm_XY``, those of the highest ``sm_XZ`` with Z <= Y, arch-specific variants included),
every PTX entry and every entry of a kind it does not know. It moves them to the
container's start, lowers the container's size and zeroes the rest of its bytes. No
container moves, so no address the loader or the CUDA runtime reads changes; the zeros
are holes in the cached lean wheel and in the installed file (``sparsify``), and compress
to almost nothing wherever the file is compressed. A container with no code a listed
architecture could load stays whole (its kernels never ran there). Fatbins kept outside
``.nv_fatbin`` (some libraries keep them in ``.rodata``) are left alone, and anything in
the section that does not read as containers keeps the library whole.

``verify`` reads the result again on its own: the same bytes outside ``.nv_fatbin``, every
container at its place, its entries the original's kept ones byte for byte, zeros after.
"""

from __future__ import annotations

import io
import os
import re
import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from lean_install.errors import UsageError

__all__ = ["FORMAT", "Container", "Entry", "Pruned", "archs", "containers", "prune", "sparsify"]

FORMAT = 1
"""The version of what ``prune`` writes: part of a plan's digest."""

_MAGIC = 0xBA55ED50
_HEADER = struct.Struct("<IHHQ")  # magic, version, header size, size of the entries
_ENTRY = struct.Struct("<HHIQ")  # kind, version, header size, padded payload size
_ARCH_AT = 28  # u32 in the entry header: the architecture (90 for sm_90)
_PTX, _CUBIN, _CUBIN_ALT = 1, 2, 0x10
_SECTION = ".nv_fatbin"
_ARCH = re.compile(r"(?:sm_)?(\d+)[af]?")
_NONZERO = re.compile(rb"[^\0]")


def archs(text: str) -> tuple[int, ...]:
    """``sm_90,sm_80`` (or ``90,80``) as ``(80, 90)``; a clear error for anything else."""
    found = []
    for item in (p.strip() for p in text.split(",")):
        match = _ARCH.fullmatch(item)
        if match is None or not 10 <= int(match.group(1)) < 1000:
            raise UsageError(
                f"not a GPU architecture: {item!r}",
                hint="name them as nvidia-smi --query-gpu=compute_cap shows them: "
                "--gpu-arch sm_90 for 9.0 (H100, H200), sm_80,sm_86 for 8.0 and 8.6",
            )
        found.append(int(match.group(1)))
    return tuple(sorted(set(found)))


@dataclass(frozen=True)
class Entry:
    offset: int
    """In the file."""
    size: int
    """Header and padded payload."""
    kind: int
    arch: int

    @property
    def is_cubin(self) -> bool:
        return self.kind in (_CUBIN, _CUBIN_ALT)


@dataclass(frozen=True)
class Container:
    offset: int
    size: int
    """The header and its entries: the bytes the container stands for."""
    entries: tuple[Entry, ...]

    def kept(self, targets: Sequence[int]) -> tuple[Entry, ...] | None:
        """The entries ``targets`` need; None when none could run there (kept whole)."""
        cubins = [e for e in self.entries if e.is_cubin]
        chosen = set()
        for target in targets:
            loadable = [e.arch for e in cubins if e.arch // 10 == target // 10 and e.arch <= target]
            if loadable:
                chosen.add(max(loadable))
        if not chosen and not any(e.kind == _PTX for e in self.entries):
            return None
        return tuple(e for e in self.entries if not e.is_cubin or e.arch in chosen)


@dataclass(frozen=True)
class Pruned:
    data: bytes
    freed: int
    """Bytes zeroed."""
    removed: dict[int, int]
    """Architecture: bytes of its cubins removed."""


class _Unreadable(Exception):
    """The section does not read as fatbin containers: the library is kept whole."""


def section(data: bytes) -> tuple[int, int] | None:
    """Offset and size of ``.nv_fatbin`` in an ELF shared library; None without one."""
    if data[:4] != b"\x7fELF":
        return None
    from elftools.elf.elffile import ELFFile  # here: ``plan`` imports FORMAT at every start

    found = ELFFile(io.BytesIO(data)).get_section_by_name(_SECTION)
    if found is None or found["sh_type"] == "SHT_NOBITS" or not found["sh_size"]:
        return None
    return found["sh_offset"], found["sh_size"]


def containers(data: bytes, start: int, size: int) -> list[Container]:
    """Every container in ``data[start:start + size]``; zeros between them are skipped (the
    tails ``prune`` leaves). Raises ``_Unreadable`` for anything else."""
    found, at, end = [], start, start + size
    while (nonzero := _NONZERO.search(data, at, end)) is not None:
        at = nonzero.start()
        if at + _HEADER.size > end:
            raise _Unreadable(f"{end - at} bytes at {at} are no container")
        magic, _version, header, length = _HEADER.unpack_from(data, at)
        if magic != _MAGIC or header != _HEADER.size or at + header + length > end:
            raise _Unreadable(f"no container at {at}")
        found.append(Container(at, header + length, _entries(data, at + header, length)))
        at += header + length
    return found


def _entries(data: bytes, start: int, length: int) -> tuple[Entry, ...]:
    entries, at, end = [], start, start + length
    while at < end:
        if at + _ARCH_AT + 4 > end:
            raise _Unreadable(f"a truncated entry at {at}")
        kind, _version, header, payload = _ENTRY.unpack_from(data, at)
        (arch,) = struct.unpack_from("<I", data, at + _ARCH_AT)
        if header < _ARCH_AT + 4 or at + header + payload > end:
            raise _Unreadable(f"an entry at {at} runs past its container")
        entries.append(Entry(at, header + payload, kind, arch))
        at += header + payload
    return tuple(entries)


def prune(data: bytes, targets: Sequence[int]) -> Pruned | None:
    """``data`` with its fatbins keeping only what ``targets`` need, verified; None when
    nothing goes or it cannot be done safely (the library is then kept whole)."""
    try:
        found = section(data)
        if found is None:
            return None
        pruned = _prune(data, containers(data, *found), targets)
    except Exception:  # noqa: BLE001 - whatever cannot be read as expected stays whole
        return None
    if pruned is None or verify(data, pruned, targets) is not None:
        return None
    return pruned


def _prune(data: bytes, found: Iterable[Container], targets: Sequence[int]) -> Pruned | None:
    out = bytearray(data)
    freed, removed = 0, dict[int, int]()
    for container in found:
        kept = container.kept(targets)
        if kept is None or len(kept) == len(container.entries):
            continue
        body = b"".join(data[e.offset : e.offset + e.size] for e in kept)
        head = _HEADER.pack(_MAGIC, 1, _HEADER.size, len(body))
        new = head + body
        out[container.offset : container.offset + container.size] = new.ljust(container.size, b"\0")
        freed += container.size - len(new)
        for entry in set(container.entries) - set(kept):
            removed[entry.arch] = removed.get(entry.arch, 0) + entry.size
    return Pruned(bytes(out), freed, dict(sorted(removed.items()))) if freed else None


def verify(original: bytes, pruned: Pruned, targets: Sequence[int]) -> str | None:
    """Why ``pruned`` is not ``original`` with its containers pruned for ``targets``."""
    try:
        return _difference(original, pruned, targets)
    except Exception as error:  # noqa: BLE001 - unreadable is a failed verification
        return f"the pruned library cannot be read: {error}"


def _difference(original: bytes, pruned: Pruned, targets: Sequence[int]) -> str | None:
    new = pruned.data
    where = section(original)
    if where is None or len(new) != len(original) or section(new) != where:
        return "the library's size or its fatbin section changed"
    start, size = where
    if original[:start] != new[:start] or original[start + size :] != new[start + size :]:
        return "bytes outside the fatbin section changed"
    after = {c.offset: c for c in containers(new, start, size)}
    zeroed = 0
    for before in containers(original, start, size):
        now = after.get(before.offset)
        if now is None:
            return f"the container at {before.offset} is gone"
        kept = before.kept(targets) or before.entries
        if [original[e.offset : e.offset + e.size] for e in kept] != [
            new[e.offset : e.offset + e.size] for e in now.entries
        ]:
            return f"the container at {before.offset} does not hold what it keeps"
        tail = new[now.offset + now.size : before.offset + before.size]
        if tail.count(0) != len(tail):
            return f"the container at {before.offset} is not followed by zeros"
        zeroed += len(tail)
    if zeroed != pruned.freed:
        return "the bytes freed are not the bytes zeroed"
    return None


# -- holes ----------------------------------------------------------------------------------

_BLOCK = 4096
_PUNCH_HOLE = 0x02 | 0x01  # FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE


def sparsify(path: str) -> int:
    """Turn the file's runs of zeroed blocks into holes (its contents stay the same); the
    bytes no longer allocated. 0 where the platform or the filesystem cannot."""
    import ctypes  # here: ``plan`` imports FORMAT at every start
    import ctypes.util

    name = ctypes.util.find_library("c")
    fallocate = getattr(ctypes.CDLL(name, use_errno=True), "fallocate", None) if name else None
    if fallocate is None:
        return 0
    fallocate.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_long, ctypes.c_long]
    zero = bytes(_BLOCK)
    with Path(path).open("rb+") as f:
        before, offset, run = os.fstat(f.fileno()).st_blocks, 0, 0
        while True:
            block = f.read(_BLOCK)
            if block == zero:
                run += _BLOCK
            elif run:
                if fallocate(f.fileno(), _PUNCH_HOLE, offset - run, run) != 0:
                    return 0
                run = 0
            if not block:
                break
            offset += len(block)
        return max((before - os.fstat(f.fileno()).st_blocks) * 512, 0)
