"""Symbol stripping on real libraries built by gcc: what goes, what the loader still sees,
a library that cannot be stripped safely kept whole, and the stripped wheel that carries
the result (installed by the real pip, loaded, its RECORD true)."""

from __future__ import annotations

import json
import struct
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from conftest import build_wheel, create_venv, pip_install, site_packages
from elftools.elf.elffile import ELFFile
from packaging.utils import canonicalize_name

from lean_install.errors import WheelError
from lean_install.plan import DistributionPlan
from lean_install.strip import build_stripped_wheel
from lean_install.symbols import Stripped, strip, verify
from lean_install.wheel import OriginalWheel

SOURCE = """\
static int helper(int x) { return 3 * x + 1; }
int answer(int x) { return helper(x) * 2; }
"""


def _library(directory: Path, *flags: str) -> bytes:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "demo.c").write_text(SOURCE)
    output = directory / "libdemo.so"
    source = str(directory / "demo.c")
    subprocess.run(["gcc", "-shared", "-fPIC", *flags, "-o", str(output), source], check=True)
    return output.read_bytes()


def _sections(data: bytes) -> dict[str, bytes]:
    import io

    elf = ELFFile(io.BytesIO(data))
    return {s.name: s.data() for s in elf.iter_sections() if s.header.sh_type != "SHT_NOBITS"}


def _answer(path: Path) -> str:
    code = f"import ctypes; print(ctypes.CDLL({str(path)!r}).answer(5))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    return done.stdout.strip() or done.stderr


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    return _library(tmp_path_factory.mktemp("lib"), "-g")


def test_strip_removes_the_symbol_table_and_debug_sections_and_the_library_still_loads(
    library: bytes, tmp_path: Path
) -> None:
    stripped = strip(library)
    assert stripped is not None
    assert {".symtab", ".strtab", ".debug_info"} <= set(stripped.removed)
    before, after = _sections(library), _sections(stripped.data)
    assert not any(name in after for name in stripped.removed)
    assert set(before) - set(after) == set(stripped.removed)
    for name in after:  # every section kept has its original bytes: .dynsym, .text, ...
        assert after[name] == before[name], name
    assert stripped.saved(library) > 0
    assert verify(library, stripped) is None
    path = tmp_path / "libdemo.so"
    path.write_bytes(stripped.data)
    assert _answer(path) == "32"
    readelf = subprocess.run(["readelf", "-S", "-W", str(path)], capture_output=True, text=True)
    assert readelf.returncode == 0 and ".symtab" not in readelf.stdout


def test_what_has_nothing_to_strip_or_is_not_a_shared_library_is_left_alone(
    library: bytes, tmp_path: Path
) -> None:
    stripped = strip(library)
    assert stripped is not None
    assert strip(stripped.data) is None  # nothing left to strip
    assert strip(b"#!/bin/sh\necho not ELF\n") is None
    assert strip(library[:200]) is None  # truncated
    (tmp_path / "demo.c").write_text(SOURCE)
    subprocess.run(["gcc", "-c", "-fPIC", "-o", str(tmp_path / "demo.o"), str(tmp_path / "demo.c")],
                   check=True)  # fmt: skip
    assert (
        strip((tmp_path / "demo.o").read_bytes()) is None
    )  # relocatable: its relocations need .symtab


def _link_to_symtab(data: bytes) -> bytes:
    """``data`` with its ``.comment`` section's sh_link pointing at ``.symtab``: a section kept
    that refers to one stripping would remove."""
    import io

    elf = ELFFile(io.BytesIO(data))
    names = [s.name for s in elf.iter_sections()]
    entry = elf["e_shoff"] + names.index(".comment") * elf["e_shentsize"]
    out = bytearray(data)
    struct.pack_into("<I", out, entry + 40, names.index(".symtab"))  # Elf64_Shdr.sh_link
    return bytes(out)


def test_a_library_that_cannot_be_stripped_safely_is_kept_whole(library: bytes) -> None:
    assert strip(_link_to_symtab(library)) is None
    assert strip(library + b"data appended to the library, read by its program") is None


def test_verification_catches_a_changed_segment_or_section(library: bytes) -> None:
    stripped = strip(library)
    assert stripped is not None
    import io

    elf = ELFFile(io.BytesIO(stripped.data))
    text = elf.get_section_by_name(".text")
    changed = bytearray(stripped.data)
    changed[text["sh_offset"]] ^= 0xFF
    reason = verify(library, Stripped(bytes(changed), stripped.removed))
    assert reason is not None and "segment" in reason
    comment = elf.get_section_by_name(".comment")
    changed = bytearray(stripped.data)
    changed[comment["sh_offset"]] ^= 0xFF
    reason = verify(library, Stripped(bytes(changed), stripped.removed))
    assert reason == "the contents of section .comment changed"
    assert verify(library, Stripped(stripped.data, (".symtab",))) is not None  # says less went


def _plan(symbols: bool, drop: tuple[str, ...]) -> DistributionPlan:
    return DistributionPlan(name=canonicalize_name("demo"), version="1.0", decision="strip",
                            reason="test", drop=drop, symbols=symbols)  # fmt: skip


def test_the_stripped_wheel_carries_stripped_libraries_that_pip_installs_and_load(
    library: bytes, tmp_path: Path
) -> None:
    files = {
        "demo/__init__.py": "",
        "demo/libdemo.so": library,
        "demo/libodd.so": _link_to_symtab(library),
        "demo/unused.py": "x = 1\n",
    }
    original = build_wheel(tmp_path / "in", "demo", "1.0", files, tag="py3-none-linux_x86_64")
    plan = _plan(True, ("demo/unused.py",))
    lean = build_stripped_wheel(original, plan, tmp_path / "out")
    assert _plan(False, plan.drop).lean_version != plan.lean_version  # a different wheel
    with zipfile.ZipFile(lean) as zf:
        manifest = json.loads(zf.read(f"demo-{plan.lean_version}.dist-info/lean-install.json"))
        stripped = zf.read("demo/libdemo.so")
        assert zf.read("demo/libodd.so") == files["demo/libodd.so"]  # kept whole
    assert manifest["symbols"] == {"demo/libdemo.so": len(library) - len(stripped)}
    with OriginalWheel.open(lean) as wheel:  # RECORD tells the truth about the new bytes
        wheel.verify_members([m for m in wheel.members if not m.endswith("/RECORD")])
    python = create_venv(tmp_path / "venv")
    pip_install(python, str(lean))
    installed = site_packages(python) / "demo" / "libdemo.so"
    assert installed.read_bytes() == stripped
    assert _answer(installed) == "32"
    check = subprocess.run([str(python), "-m", "pip", "check"], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout
    command = [sys.executable, "-m", "lean_install", "report", "--python", str(python), "--json"]
    report = subprocess.run(command, capture_output=True, text=True, check=True)
    (demo,) = [d for d in json.loads(report.stdout)["distributions"] if d["name"] == "demo"]
    assert demo["removed"]["symbols"] == manifest["symbols"]["demo/libdemo.so"]
    assert demo["removed"]["bytes"] == demo["removed"]["symbols"] + len("x = 1\n")


def test_without_symbols_in_the_plan_libraries_are_copied_as_they_are(
    library: bytes, tmp_path: Path
) -> None:
    files = {"demo/__init__.py": "", "demo/libdemo.so": library, "demo/unused.py": ""}
    original = build_wheel(tmp_path / "in", "demo", "1.0", files, tag="py3-none-linux_x86_64")
    lean = build_stripped_wheel(original, _plan(False, ("demo/unused.py",)), tmp_path / "out")
    with zipfile.ZipFile(lean) as zf:
        assert zf.read("demo/libdemo.so") == library
        names = zf.namelist()
    manifest = next(n for n in names if n.endswith("lean-install.json"))
    with zipfile.ZipFile(lean) as zf:
        assert "symbols" not in json.loads(zf.read(manifest))


def test_a_corrupt_library_in_the_original_is_a_wheel_error_naming_it(
    library: bytes, tmp_path: Path
) -> None:
    """The library is read whole to strip it: damaged bytes say which wheel and member."""
    files = {"demo/__init__.py": "", "demo/libdemo.so": library, "demo/unused.py": "x = 1\n"}
    original = build_wheel(tmp_path / "in", "demo", "1.0", files, tag="py3-none-linux_x86_64")
    with zipfile.ZipFile(original) as zf:
        info = zf.getinfo("demo/libdemo.so")
    data = bytearray(original.read_bytes())
    data[info.header_offset + 30 + len(info.filename) + len(info.extra) + 50] ^= 0xFF
    original.write_bytes(bytes(data))
    with pytest.raises(WheelError, match="demo/libdemo.so cannot be read"):
        build_stripped_wheel(original, _plan(True, ("demo/unused.py",)), tmp_path / "out")
