"""Original wheels: reading real wheels, and refusing hostile or corrupt ones with all problems."""

from __future__ import annotations

import stat
import struct
import warnings
import zipfile
from collections.abc import Sequence
from pathlib import Path

import pytest
from conftest import build_wheel, record_hash
from test_dynlib import build_libraries

from lean_install.errors import LeanInstallError, WheelError
from lean_install.wheel import MAX_COMPRESSION_RATIO, OriginalWheel

INFO = "demo-1.0.dist-info"
METADATA = b"Metadata-Version: 2.1\nName: demo\nVersion: 1.0\n"
WHEEL = b"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n"

Entry = tuple["str | zipfile.ZipInfo", bytes]


def write_wheel(
    directory: Path,
    entries: Sequence[Entry],
    *,
    record: bytes | None = None,
    dist_info: bool = True,
    filename: str = "demo-1.0-py3-none-any.whl",
) -> Path:
    """A wheel written entry by entry, hostile entries included.

    METADATA and WHEEL are added (unless ``dist_info`` is false); RECORD lists every entry
    with its true hash unless ``record`` gives its text.
    """
    files: list[Entry] = list(entries)
    if dist_info:
        files += [(f"{INFO}/METADATA", METADATA), (f"{INFO}/WHEEL", WHEEL)]
        if record is None:
            lines = [f"{_name(n)},{record_hash(d)},{len(d)}" for n, d in files]
            record = ("\n".join([*lines, f"{INFO}/RECORD,,"]) + "\n").encode()
        files.append((f"{INFO}/RECORD", record))
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / filename
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns about duplicate names
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
            for name, data in files:
                archive.writestr(name, data)
    return path


def _name(entry: str | zipfile.ZipInfo) -> str:
    return entry.filename if isinstance(entry, zipfile.ZipInfo) else entry


def symlink(name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name)
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    return info


GOOD = [("demo/__init__.py", b"VALUE = 1\n"), ("demo/core.py", b"def f():\n    return 2\n")]


def refused(path: Path) -> WheelError:
    with pytest.raises(WheelError) as caught:
        OriginalWheel.open(path).close()
    return caught.value


def test_open_reads_a_real_wheel(tmp_path: Path) -> None:
    path = build_wheel(
        tmp_path,
        "Demo-Pkg",
        "1.0.post1",
        {"demo_pkg/__init__.py": "X = 1\n", "demo_pkg/data/table.csv": "a,b\n1,2\n"},
        requires=("numpy>=1",),
        entry_points="[console_scripts]\ndemo = demo_pkg:main\n",
        tag="cp311-cp311-manylinux_2_28_x86_64",
    )
    with OriginalWheel.open(path) as wheel:
        assert (wheel.name, wheel.version, wheel.project) == ("Demo-Pkg", "1.0.post1", "demo-pkg")
        assert wheel.dist == "Demo_Pkg"
        assert wheel.dist_info == "Demo_Pkg-1.0.post1.dist-info"
        assert wheel.tags == "cp311-cp311-manylinux_2_28_x86_64"
        assert wheel.build == ""
        assert wheel.record["demo_pkg/__init__.py"] == (record_hash(b"X = 1\n"), 6)
        assert wheel.record["Demo_Pkg-1.0.post1.dist-info/RECORD"] == ("", None)
        listing = wheel.listing()
        assert listing.dist_info == wheel.dist_info
        assert listing.members["demo_pkg/data/table.csv"] == 8
        assert set(listing.members) == set(wheel.record)
        assert dict(listing.dynamic) == {}
        assert "demo = demo_pkg:main" in listing.entry_points
        wheel.verify_members(wheel.members)


def test_listing_reads_dt_needed_of_elf_members_only(tmp_path: Path) -> None:
    libs = build_libraries(tmp_path / "libs")
    path = write_wheel(
        tmp_path,
        [
            *GOOD,
            ("demo/lib/libb.so", libs["libb.so"].read_bytes()),
            ("demo/lib/liba.so", libs["liba.so"].read_bytes()),
            ("demo.libs/libleaf.so.1", libs["libleaf.so.1"].read_bytes()),
            ("demo/lib/notelf.so", b"just text"),
            ("demo/lib/elf_but_not_so.bin", libs["liba.so"].read_bytes()),
        ],
    )
    with OriginalWheel.open(path) as wheel:
        dynamic = wheel.listing().dynamic
    shared = {"demo/lib/libb.so", "demo/lib/liba.so", "demo.libs/libleaf.so.1"}
    assert set(dynamic) == shared | {"demo/lib/notelf.so"}  # by name; read lazily
    assert dynamic["demo/lib/notelf.so"].needed == ()
    assert "demo/lib/elf_but_not_so.bin" not in dynamic
    assert dynamic["demo/lib/libb.so"].needed[0] == "liba.so"
    assert "libleaf.so.1" in dynamic["demo/lib/liba.so"].needed


def test_symlink_inside_the_wheel_is_accepted(tmp_path: Path) -> None:
    path = write_wheel(tmp_path, [*GOOD, (symlink("demo/alias.py"), b"core.py")])
    with OriginalWheel.open(path) as wheel:
        assert wheel.members["demo/alias.py"].is_symlink


@pytest.mark.parametrize(
    ("entries", "expected"),
    [
        ([("../evil.py", b"x")], "'../evil.py' has a '..' component"),
        ([("demo/../../evil.py", b"x")], "has a '..' component"),
        ([("/tmp/evil.py", b"x")], "'/tmp/evil.py' is absolute"),
        ([("C:/evil.py", b"x")], "is absolute"),
        ([("demo\\evil.py", b"x")], "contains a backslash"),
        ([("demo//evil.py", b"x")], "is not a normalized relative path"),
        ([(symlink("demo/link"), b"../../etc/passwd")], "points outside the wheel"),
        ([(symlink("demo/link"), b"/etc/passwd")], "points outside the wheel"),
        ([("demo/core.py", b"other")], "'demo/core.py' appears more than once"),
    ],
    ids=[
        "dotdot",
        "inner-dotdot",
        "absolute",
        "drive",
        "backslash",
        "empty-part",
        "symlink-out",
        "symlink-absolute",
        "duplicate",
    ],
)
def test_hostile_members_are_refused(tmp_path: Path, entries: list[Entry], expected: str) -> None:
    error = refused(write_wheel(tmp_path, [*GOOD, *entries]))
    assert any(expected in issue for issue in error.issues), error.issues
    assert isinstance(error, LeanInstallError)
    assert isinstance(error, ValueError)
    assert str(tmp_path / "demo-1.0-py3-none-any.whl") in str(error)


def test_all_problems_are_collected_in_one_error(tmp_path: Path) -> None:
    entries = [*GOOD, ("../a.py", b"a"), ("/b.py", b"b"), ("c\\d.py", b"c")]
    error = refused(write_wheel(tmp_path, entries))
    assert len(error.issues) >= 3
    assert f"(and {len(error.issues) - 1} more problems)" in str(error)


def test_not_a_zip_and_truncated_zip_are_refused(tmp_path: Path) -> None:
    garbage = tmp_path / "demo-1.0-py3-none-any.whl"
    garbage.write_bytes(b"PK\x03\x04" + bytes(range(256)) * 10)
    assert "not a valid zip archive" in refused(garbage).issues[0]
    good = write_wheel(tmp_path / "good", GOOD)
    data = good.read_bytes()
    truncated = tmp_path / "cut" / good.name
    truncated.parent.mkdir()
    truncated.write_bytes(data[: len(data) // 2])
    assert "not a valid zip archive" in refused(truncated).issues[0]


def test_data_past_the_end_of_the_archive_is_refused(tmp_path: Path) -> None:
    """A central directory that claims more compressed bytes than the archive holds."""
    path = write_wheel(tmp_path, [*GOOD, ("demo/blob.bin", bytes(range(256)) * 100)])
    data = bytearray(path.read_bytes())
    entry = _central_entry(data, b"demo/blob.bin")
    struct.pack_into("<I", data, entry + 20, len(data) * 2)  # compressed size
    path.write_bytes(bytes(data))
    assert (
        "demo/blob.bin: data runs past the end of the archive (truncated?)" in refused(path).issues
    )


def _central_entry(data: bytes | bytearray, name: bytes) -> int:
    """Where the central directory entry of ``name`` starts."""
    end = data.rfind(b"PK\x05\x06")
    (position,) = struct.unpack_from("<I", data, end + 16)
    while data[position : position + 4] == b"PK\x01\x02":
        name_length, extra_length, comment_length = struct.unpack_from("<HHH", data, position + 28)
        if data[position + 46 : position + 46 + name_length] == name:
            return int(position)
        position += 46 + name_length + extra_length + comment_length
    raise AssertionError(f"{name!r} not in the central directory")


def test_overlapping_entries_are_refused(tmp_path: Path) -> None:
    """The non-recursive zip bomb: several central entries pointing at one local header."""
    path = write_wheel(tmp_path, [*GOOD, ("demo/a.txt", b"A" * 1000), ("demo/b.txt", b"A" * 1000)])
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as archive:
        first = archive.getinfo("demo/a.txt").header_offset
    struct.pack_into("<I", data, _central_entry(data, b"demo/b.txt") + 42, first)
    path.write_bytes(bytes(data))
    issues = refused(path).issues
    assert any("local header names 'demo/a.txt'" in issue for issue in issues), issues


def test_zip_bomb_ratio_is_refused_without_inflating(tmp_path: Path) -> None:
    zeros = bytes(64 * 1024**2)
    path = write_wheel(tmp_path, [*GOOD, ("demo/zeros.bin", zeros)])
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo("demo/zeros.bin")
    assert info.file_size / info.compress_size > MAX_COMPRESSION_RATIO
    issues = refused(path).issues
    assert any("compression ratio" in issue and "zip bomb" in issue for issue in issues)


@pytest.mark.parametrize("missing", ["METADATA", "WHEEL", "RECORD"])
def test_missing_dist_info_files_are_refused(tmp_path: Path, missing: str) -> None:
    path = write_wheel(tmp_path, GOOD)
    kept = tmp_path / "out" / path.name
    kept.parent.mkdir()
    with zipfile.ZipFile(path) as source, zipfile.ZipFile(kept, "w") as target:
        for info in source.infolist():
            if info.filename != f"{INFO}/{missing}":
                target.writestr(info, source.read(info))
    assert f"{INFO}/{missing} is missing" in refused(kept).issues


def test_missing_dist_info_is_refused(tmp_path: Path) -> None:
    assert "no .dist-info directory" in refused(write_wheel(tmp_path, GOOD, dist_info=False)).issues


@pytest.mark.parametrize(
    ("record_line", "expected"),
    [
        ("../escape.py,sha256=AAAA,1", "path '../escape.py' has a '..' component"),
        ("/etc/passwd,sha256=AAAA,1", "path '/etc/passwd' is absolute"),
        ("demo/core.py,md5=AAAA,22", "is not one of"),
        ("demo/core.py,,22", "demo/core.py has no hash"),
    ],
)
def test_bad_record_lines_are_refused(tmp_path: Path, record_line: str, expected: str) -> None:
    lines = [f"demo/__init__.py,{record_hash(GOOD[0][1])},{len(GOOD[0][1])}", record_line]
    lines += [f"{INFO}/METADATA,{record_hash(METADATA)},{len(METADATA)}"]
    lines += [f"{INFO}/WHEEL,{record_hash(WHEEL)},{len(WHEEL)}", f"{INFO}/RECORD,,"]
    path = write_wheel(tmp_path, GOOD, record="\n".join(lines).encode())
    issues = refused(path).issues
    assert any(expected in issue for issue in issues), issues


def test_member_not_in_record_is_refused(tmp_path: Path) -> None:
    lines = [f"demo/__init__.py,{record_hash(GOOD[0][1])},{len(GOOD[0][1])}"]
    lines += [f"{INFO}/METADATA,{record_hash(METADATA)},{len(METADATA)}"]
    lines += [f"{INFO}/WHEEL,{record_hash(WHEEL)},{len(WHEEL)}", f"{INFO}/RECORD,,"]
    path = write_wheel(tmp_path, GOOD, record="\n".join(lines).encode())
    assert "demo/core.py is not listed in RECORD" in refused(path).issues


def test_record_size_that_lies_is_refused_on_open(tmp_path: Path) -> None:
    lines = [f"{n},{record_hash(d)},{len(d) + 1}" for n, d in GOOD]
    lines += [f"{INFO}/METADATA,{record_hash(METADATA)},{len(METADATA)}"]
    lines += [f"{INFO}/WHEEL,{record_hash(WHEEL)},{len(WHEEL)}", f"{INFO}/RECORD,,"]
    issues = refused(write_wheel(tmp_path, GOOD, record="\n".join(lines).encode())).issues
    assert "demo/core.py: RECORD says 23 bytes, the archive 22" in issues


def test_record_hash_that_lies_is_found_by_verify_members(tmp_path: Path) -> None:
    lines = [f"demo/__init__.py,{record_hash(b'something else'[:10])},10"]
    lines += [f"demo/core.py,{record_hash(GOOD[1][1])},{len(GOOD[1][1])}"]
    lines += [f"{INFO}/METADATA,{record_hash(METADATA)},{len(METADATA)}"]
    lines += [f"{INFO}/WHEEL,{record_hash(WHEEL)},{len(WHEEL)}", f"{INFO}/RECORD,,"]
    path = write_wheel(tmp_path, GOOD, record="\n".join(lines).encode())
    with OriginalWheel.open(path) as wheel:
        wheel.verify_members(["demo/core.py", f"{INFO}/METADATA"])
        with pytest.raises(WheelError) as caught:
            wheel.verify_members(wheel.members)
        with pytest.raises(WheelError, match="not in the wheel"):
            wheel.verify_members(["demo/absent.py"])
    assert caught.value.issues == (
        "demo/__init__.py: content does not match its RECORD hash "
        f"{record_hash(b'something else'[:10])}",
    )


def test_corrupt_member_data_is_found_by_verify_members(tmp_path: Path) -> None:
    payload = bytes(range(256)) * 200
    path = write_wheel(tmp_path, [*GOOD, ("demo/blob.bin", payload)])
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo("demo/blob.bin")
    middle = info.header_offset + 30 + len(info.filename) + info.compress_size // 2
    data[middle] ^= 0xFF
    path.write_bytes(bytes(data))
    with OriginalWheel.open(path) as wheel, pytest.raises(WheelError) as caught:
        wheel.verify_members(["demo/blob.bin"])
    assert caught.value.issues[0].startswith("demo/blob.bin: ")


@pytest.mark.parametrize(
    ("filename", "metadata", "expected"),
    [
        ("demo-1.0-py3-none-any.whl", b"Name: other\nVersion: 1.0\n", "METADATA says name other"),
        ("demo-1.0-py3-none-any.whl", b"Name: demo\nVersion: 2.0\n", "METADATA says version 2.0"),
        ("demo.whl", METADATA, "not a wheel file name"),
    ],
)
def test_metadata_that_contradicts_the_file_name_is_refused(
    tmp_path: Path, filename: str, metadata: bytes, expected: str
) -> None:
    entries = [*GOOD, (f"{INFO}/METADATA", metadata), (f"{INFO}/WHEEL", WHEEL)]
    lines = [f"{n},{record_hash(d)},{len(d)}" for n, d in entries] + [f"{INFO}/RECORD,,"]
    entries.append((f"{INFO}/RECORD", "\n".join(lines).encode()))
    path = write_wheel(tmp_path, entries, dist_info=False, filename=filename)
    assert any(expected in issue for issue in refused(path).issues)
