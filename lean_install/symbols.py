"""Symbol stripping: a shared library without its symbol table and debug sections.

A shared library's ``.symtab`` and ``.strtab`` (every symbol, local ones included) and its
``.debug_*`` sections are read by debuggers, profilers and symbolizers, never by the
dynamic loader, which uses ``.dynsym``. torch 2.13.0's ``libtorch_cpu.so`` carries 89 MB of
them in 434 MB. ``strip`` removes them only where it is safe to do so and nothing the
loader reads can change:

- the file is an ELF executable or shared object (not a relocatable object);
- the sections removed are not loaded (not ``SHF_ALLOC``), lie outside every segment, come
  after every loaded section (so no section index the loader sees moves), and no section
  kept refers to one of them (``sh_link``, ``sh_info``);
- everything up to the end of the last segment is copied byte for byte; only the ELF
  header's three section-table fields change, and the non-loaded sections kept
  (``.comment``, ``.shstrtab``, ...) move down.

``verify`` then reads the result again on its own, comparing it with the original (same
segments and program headers, same bytes in every segment but those three fields, the same
sections kept with the same contents); a library that fails is kept whole.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from elftools.elf.elffile import ELFFile

__all__ = ["FORMAT", "Stripped", "strip", "verify", "is_candidate"]

FORMAT = 1
"""The version of what ``strip`` writes: part of a plan's digest."""

_SHF_ALLOC = 0x2
_SHF_INFO_LINK = 0x40
_SHT_NOBITS = "SHT_NOBITS"
_SECTION_TABLE_FIELDS = ("e_shoff", "e_shnum", "e_shstrndx")
_LARGEST_GAP = 64
"""Bytes between sections that alignment explains (anything more is data of its own)."""
_SHN_LORESERVE = 0xFF00


def _removable_name(name: str) -> bool:
    return name in (".symtab", ".strtab") or name.startswith((".debug", ".zdebug"))


def is_candidate(path: str) -> bool:
    """Whether a member's name is a shared library's (``x.so``, ``libx.so.1.2``)."""
    name = path.rpartition("/")[2]
    return name.endswith(".so") or ".so." in name


@dataclass(frozen=True)
class Stripped:
    """A library with its symbols removed: the new bytes and what went."""

    data: bytes
    removed: tuple[str, ...]
    """The section names removed, in the original's order."""

    def saved(self, original: bytes) -> int:
        return len(original) - len(self.data)


class _Refused(Exception):
    """Why a library is kept whole."""


def strip(data: bytes) -> Stripped | None:
    """``data`` without its symbol table and debug sections, verified; None when it has
    none, is not ELF, or cannot be stripped safely (then it is kept whole)."""
    try:
        stripped = _strip(data)
    except Exception:  # noqa: BLE001 - whatever cannot be read or written as expected stays whole
        return None
    if stripped is None or verify(data, stripped) is not None:
        return None
    return stripped


def _elf(data: bytes) -> ELFFile | None:
    if data[:4] != b"\x7fELF":
        return None
    from elftools.elf.elffile import ELFFile  # here: ``plan`` imports FORMAT at every start

    return ELFFile(io.BytesIO(data))


def _strip(data: bytes) -> Stripped | None:
    elf = _elf(data)
    if elf is None or elf["e_type"] not in ("ET_DYN", "ET_EXEC"):
        return None
    if not 0 < elf["e_shnum"] < _SHN_LORESERVE or not 0 < elf["e_shstrndx"] < _SHN_LORESERVE:
        return None  # none, or extended section numbering
    headers = [s.header for s in elf.iter_sections()]
    names = [s.name for s in elf.iter_sections()]
    gone = {i for i, name in enumerate(names) if i and _removable_name(name)}
    if not gone:
        return None
    from elftools.construct.lib.container import Container

    _check_removable(elf, headers, gone)
    end = _loaded_end(elf, headers)
    _check_nothing_else(elf, headers, end, len(data))
    out = bytearray(data[:end])
    new_index = {
        old: new for new, old in enumerate(i for i in range(len(headers)) if i not in gone)
    }
    kept_headers = [
        _moved(dict(h), out, data, end, new_index) for i, h in enumerate(headers) if i not in gone
    ]
    _pad(out, elf.elfclass // 8)
    shoff = len(out)
    for header in kept_headers:
        out += elf.structs.Elf_Shdr.build(Container(**header))
    ehdr = dict(elf.header)
    ehdr.update(e_shoff=shoff, e_shnum=len(kept_headers), e_shstrndx=new_index[elf["e_shstrndx"]])
    out[: elf["e_ehsize"]] = elf.structs.Elf_Ehdr.build(Container(**ehdr))
    return Stripped(bytes(out), tuple(names[i] for i in sorted(gone)))


def _check_removable(elf: ELFFile, headers: Sequence[Any], gone: set[int]) -> None:
    """Raise ``_Refused`` unless every section in ``gone`` can go (see the module docstring)."""
    last_loaded = max((i for i, h in enumerate(headers) if h["sh_flags"] & _SHF_ALLOC), default=0)
    segments = [(s["p_offset"], s["p_offset"] + s["p_filesz"]) for s in elf.iter_segments()]
    for i in gone:
        h = headers[i]
        if h["sh_flags"] & _SHF_ALLOC or i < last_loaded or i == elf["e_shstrndx"]:
            raise _Refused(f"section {i} is loaded, or before a loaded one")
        start, stop = h["sh_offset"], h["sh_offset"] + h["sh_size"]
        if h["sh_type"] != _SHT_NOBITS and any(a < stop and start < b for a, b in segments):
            raise _Refused(f"section {i} lies in a segment")
    for i, h in enumerate(headers):
        if i in gone:
            continue
        if h["sh_link"] in gone or (_info_is_section(h) and h["sh_info"] in gone):
            raise _Refused(f"section {i} refers to a section removed")


def _check_nothing_else(elf: ELFFile, headers: Sequence[Any], end: int, size: int) -> None:
    """Raise ``_Refused`` if the file holds bytes after ``end`` that no section and not the
    section table holds (data appended to the library, which a program may read)."""
    held = [(h["sh_offset"], h["sh_offset"] + h["sh_size"]) for h in headers
            if h["sh_type"] not in (_SHT_NOBITS, "SHT_NULL")]  # fmt: skip
    held.append((elf["e_shoff"], elf["e_shoff"] + len(headers) * elf["e_shentsize"]))
    reached = end
    for start, stop in sorted(held):
        if stop <= reached:
            continue
        if start - reached > _LARGEST_GAP:
            raise _Refused(f"{start - reached} bytes at {reached} belong to no section")
        reached = stop
    if size > reached:
        raise _Refused(f"{size - reached} bytes at the end belong to no section")


def _info_is_section(header: Any) -> bool:
    return bool(header["sh_flags"] & _SHF_INFO_LINK) or header["sh_type"] in ("SHT_REL", "SHT_RELA")


def _loaded_end(elf: ELFFile, headers: Sequence[Any]) -> int:
    """Where what the loader reads ends: the last segment, the headers, loaded sections."""
    ends: list[int] = [elf["e_ehsize"], elf["e_phoff"] + elf["e_phnum"] * elf["e_phentsize"]]
    ends += [s["p_offset"] + s["p_filesz"] for s in elf.iter_segments()]
    ends += [
        h["sh_offset"] + h["sh_size"]
        for h in headers
        if h["sh_flags"] & _SHF_ALLOC and h["sh_type"] != _SHT_NOBITS
    ]
    return max(ends)


def _moved(
    header: dict[str, Any],
    out: bytearray,
    data: bytes,
    end: int,
    new_index: dict[int, int],
) -> dict[str, Any]:
    """A kept section's header for the new file; a non-loaded section after ``end`` is
    appended to ``out`` (aligned as it asks) and its offset changed."""
    if header["sh_link"]:
        header["sh_link"] = new_index[header["sh_link"]]
    if _info_is_section(header) and header["sh_info"]:
        header["sh_info"] = new_index[header["sh_info"]]
    offset, size = header["sh_offset"], header["sh_size"]
    if header["sh_type"] == _SHT_NOBITS or header["sh_type"] == "SHT_NULL" or offset + size <= end:
        return header
    _pad(out, max(1, header["sh_addralign"]))
    header["sh_offset"] = len(out)
    out += data[offset : offset + size]
    return header


def _pad(out: bytearray, alignment: int) -> None:
    out += b"\0" * (-len(out) % alignment)


# -- verification ---------------------------------------------------------------------------


def verify(original: bytes, stripped: Stripped) -> str | None:
    """Why ``stripped`` is not ``original`` minus the sections it names (None if it is)."""
    try:
        return _difference(original, stripped)
    except Exception as error:  # noqa: BLE001 - unreadable is a failed verification
        return f"the stripped library cannot be read: {error}"


def _difference(original: bytes, stripped: Stripped) -> str | None:
    before, after = _elf(original), _elf(stripped.data)
    if before is None or after is None:
        return "not an ELF file"
    for key, value in before.header.items():
        if key not in _SECTION_TABLE_FIELDS and after.header[key] != value:
            return f"the ELF header's {key} changed"
    if [s.header for s in before.iter_segments()] != [s.header for s in after.iter_segments()]:
        return "the program headers changed"
    ehsize = before["e_ehsize"]
    for segment in before.iter_segments():
        start, stop = max(segment["p_offset"], ehsize), segment["p_offset"] + segment["p_filesz"]
        if start < stop and original[start:stop] != stripped.data[start:stop]:
            return f"the bytes of a {segment['p_type']} segment changed"
    kept = [s for s in before.iter_sections() if s.name not in stripped.removed]
    now = list(after.iter_sections())
    if [s.name for s in kept] != [s.name for s in now]:
        return "the sections kept are not the original's"
    old_names = [s.name for s in before.iter_sections()]
    new_names = [s.name for s in now]
    for old, new in zip(kept, now, strict=True):
        links = old_names[old["sh_link"]], new_names[new["sh_link"]]
        if _section_facts(old) != _section_facts(new) or links[0] != links[1]:
            return f"section {old.name or '0'} changed"
        if old["sh_type"] != _SHT_NOBITS and old.data() != new.data():
            return f"the contents of section {old.name} changed"
    return None


def _section_facts(section: Any) -> tuple[Any, ...]:
    h = section.header
    return (h["sh_type"], h["sh_flags"], h["sh_addr"], h["sh_size"], h["sh_addralign"])
