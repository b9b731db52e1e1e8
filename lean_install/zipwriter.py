"""A small zip writer for wheels: raw copies of compressed members, fixed attributes, zip64.

Kept members of a stripped wheel are copied as their compressed bytes (never
recompressed, with ``copy_file_range`` where the kernel has it); new files are stored
(whole blocks of zeros as holes in the file); times and modes are fixed. So the output
depends on its inputs only, not on the zlib build: the same inputs give the same bytes.
"""

from __future__ import annotations

import os
import struct
import zlib
from dataclasses import dataclass
from typing import Protocol

__all__ = ["ZipWriter", "RawMember"]


class RawMember(Protocol):
    """What the writer needs of an original member to copy it raw."""

    @property
    def method(self) -> int: ...
    @property
    def crc(self) -> int: ...
    @property
    def compressed_size(self) -> int: ...
    @property
    def size(self) -> int: ...
    @property
    def data_offset(self) -> int: ...
    @property
    def executable(self) -> bool: ...


_LOCAL = struct.Struct("<IHHHHHIIIHH")
_CENTRAL = struct.Struct("<IHHHHHHIIIHHHHHII")
_END = struct.Struct("<IHHHHIIH")
_END64 = struct.Struct("<IQHHIIQQQQ")
_LOCATOR64 = struct.Struct("<IIQI")
_ZIP64_EXTRA = 0x0001
_LIMIT32 = 0xFFFFFFFF
_LIMIT16 = 0xFFFF
_DOS_DATE = (1 << 5) | 1  # 1980-01-01, the earliest a zip can say
_DOS_TIME = 0
_UNIX = 3 << 8
_UTF8 = 0x800
_HOLE = 1 << 16
_ZEROS = bytes(_HOLE)


@dataclass(frozen=True)
class _Entry:
    name: bytes
    method: int
    crc: int
    compressed_size: int
    size: int
    mode: int
    offset: int

    @property
    def flags(self) -> int:
        return 0 if self.name.isascii() else _UTF8


class ZipWriter:
    """Write a zip sequentially to a descriptor: fixed times and modes, no data descriptors.

    ``add_member`` copies an original member's compressed bytes from ``source`` (a
    descriptor) without recompressing; ``add_bytes`` stores new data uncompressed. Sizes
    and offsets that do not fit 32 bits get zip64 fields (always, with ``force_zip64``).
    """

    def __init__(self, fd: int, *, source: int, force_zip64: bool = False) -> None:
        self._fd = fd
        self._source = source
        self._force_zip64 = force_zip64
        self._position = 0
        self._entries: list[_Entry] = []

    def add_member(self, name: str, member: RawMember) -> None:
        """Copy ``member``'s compressed bytes under ``name``; only its exec bit is kept."""
        mode = 0o100755 if member.executable else 0o100644
        self._local_header(
            _Entry(
                name.encode(),
                member.method,
                member.crc,
                member.compressed_size,
                member.size,
                mode,
                self._position,
            )
        )
        _copy_range(self._source, self._fd, member.data_offset, member.compressed_size)
        self._position += member.compressed_size

    def add_bytes(self, name: str, data: bytes) -> None:
        """Store ``data`` (uncompressed) under ``name``, mode 0644."""
        size = len(data)
        entry = _Entry(name.encode(), 0, zlib.crc32(data), size, size, 0o100644, self._position)
        self._local_header(entry)
        self._write_sparse(data)

    def _local_header(self, entry: _Entry) -> None:
        self._entries.append(entry)
        size, csize = entry.size, entry.compressed_size
        zip64 = self._force_zip64 or max(csize, size) >= _LIMIT32
        extra = struct.pack("<HHQQ", _ZIP64_EXTRA, 16, size, csize) if zip64 else b""
        sizes = (_LIMIT32, _LIMIT32) if zip64 else (csize, size)
        header = _LOCAL.pack(
            0x04034B50,
            45 if zip64 else 20,
            entry.flags,
            entry.method,
            _DOS_TIME,
            _DOS_DATE,
            entry.crc,
            *sizes,
            len(entry.name),
            len(extra),
        )
        self._write(header + entry.name + extra)

    def finish(self) -> None:
        """Write the central directory and the end records."""
        start = self._position
        self._write(b"".join(self._central(entry) for entry in self._entries))
        self._end(start, self._position - start)

    def _central(self, entry: _Entry) -> bytes:
        values = (entry.size, entry.compressed_size, entry.offset)
        big = [v for v in values if self._force_zip64 or v >= _LIMIT32]
        extra = struct.pack(f"<HH{len(big)}Q", _ZIP64_EXTRA, 8 * len(big), *big) if big else b""
        size, csize, offset = (
            _LIMIT32 if self._force_zip64 or v >= _LIMIT32 else v for v in values
        )
        version = 45 if big else 20
        return (
            _CENTRAL.pack(
                0x02014B50,
                _UNIX | version,
                version,
                entry.flags,
                entry.method,
                _DOS_TIME,
                _DOS_DATE,
                entry.crc,
                csize,
                size,
                len(entry.name),
                len(extra),
                0,
                0,
                0,
                entry.mode << 16,
                offset,
            )
            + entry.name
            + extra
        )

    def _end(self, start: int, size: int) -> None:
        count = len(self._entries)
        zip64 = self._force_zip64 or count >= _LIMIT16 or max(start, size) >= _LIMIT32
        if zip64:
            end64 = self._position
            self._write(
                _END64.pack(0x06064B50, 44, _UNIX | 45, 45, 0, 0, count, count, size, start)
                + _LOCATOR64.pack(0x07064B50, 0, end64, 1)
            )
            count, size, start = min(count, _LIMIT16), min(size, _LIMIT32), min(start, _LIMIT32)
        self._write(_END.pack(0x06054B50, 0, 0, count, count, size, start, 0))

    def _write(self, data: bytes | memoryview) -> None:
        view = memoryview(data)
        while view:
            written = os.write(self._fd, view)
            view = view[written:]
        self._position += len(data)

    def _write_sparse(self, data: bytes) -> None:
        """``_write``, leaving a hole for each whole block of zeros (a pruned fatbin's): the
        file reads the same, and the zeros take no disk."""
        view, start = memoryview(data), 0
        for at in range(0, len(data) - _HOLE + 1, _HOLE):
            if data.startswith(_ZEROS, at):
                self._write(view[start:at])
                os.lseek(self._fd, _HOLE, os.SEEK_CUR)
                self._position += _HOLE
                start = at + _HOLE
        self._write(view[start:])


def _copy_range(source: int, target: int, offset: int, count: int) -> None:
    """Append ``count`` bytes of ``source`` from ``offset`` to ``target`` (kernel copy if any)."""
    copy = getattr(os, "copy_file_range", None)
    while count and copy is not None:
        try:
            copied = int(copy(source, target, count, offset))
        except OSError:  # other file system, old kernel, unsupported file type
            break
        if copied == 0:
            break
        offset += copied
        count -= copied
    while count:
        block = os.pread(source, min(count, 1024**2), offset)
        if not block:
            raise OSError(f"the archive ends {count} bytes early")
        view = memoryview(block)
        while view:
            view = view[os.write(target, view) :]
        offset += len(block)
        count -= len(block)
