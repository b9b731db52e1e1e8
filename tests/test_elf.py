"""ELF: DT_NEEDED of real shared libraries built with gcc, and the closure of kept ones."""

from __future__ import annotations

import io
import shutil
import subprocess
from pathlib import Path

import pytest

from lean_install.elf import closure, is_shared_object_name, needed

LEAF_C = "int leaf(void) { return 41; }\n"
A_C = "int leaf(void);\nint a(void) { return leaf() + 1; }\n"
B_C = "int a(void);\nint b(void) { return a() * 2; }\n"


def build_libraries(directory: Path) -> dict[str, Path]:
    """libb.so -> liba.so -> libleaf.so.1 (a soname with a version), built with gcc.

    Skips the test when gcc is not installed.
    """
    gcc = shutil.which("gcc")
    if gcc is None:
        pytest.skip("gcc is not installed: cannot build shared libraries to read")
    directory.mkdir(parents=True, exist_ok=True)
    for name, source in {"leaf.c": LEAF_C, "a.c": A_C, "b.c": B_C}.items():
        (directory / name).write_text(source)

    def cc(*args: str) -> None:
        subprocess.run([gcc, "-shared", "-fPIC", *args], cwd=directory, check=True)

    cc("-Wl,-soname,libleaf.so.1", "-o", "libleaf.so", "leaf.c")
    cc("-o", "liba.so", "a.c", "-L.", "-lleaf")
    cc("-o", "libb.so", "b.c", "-L.", "-la")
    return {
        "libleaf.so.1": directory / "libleaf.so",
        "liba.so": directory / "liba.so",
        "libb.so": directory / "libb.so",
    }


@pytest.fixture(scope="module")
def libraries(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return build_libraries(tmp_path_factory.mktemp("libs"))


def test_needed_reads_dt_needed_from_bytes_and_streams(libraries: dict[str, Path]) -> None:
    data = libraries["libb.so"].read_bytes()
    from_bytes = needed(data)
    assert from_bytes[0] == "liba.so"
    assert "libleaf.so.1" not in from_bytes  # only direct dependencies
    with libraries["libb.so"].open("rb") as stream:
        assert needed(stream) == from_bytes
    assert needed(io.BytesIO(data)) == from_bytes
    assert "libleaf.so.1" in needed(libraries["liba.so"].read_bytes())


def test_needed_of_a_library_without_dependencies_on_the_wheel(
    libraries: dict[str, Path],
) -> None:
    names = needed(libraries["libleaf.so.1"].read_bytes())
    assert not any(name.startswith(("liba", "libb", "libleaf")) for name in names)


@pytest.mark.parametrize(
    "garbage",
    [
        b"",
        b"\x7fEL",
        b"\x7fELF",
        b"\x7fELF" + b"\xff" * 60,
        b"\x7fELF\x02\x01\x01" + bytes(range(256)) * 40,
        b"#!/bin/sh\necho not elf\n",
        bytes(range(256)) * 100,
    ],
)
def test_needed_never_raises_on_garbage(garbage: bytes) -> None:
    assert needed(garbage) == ()
    assert needed(io.BytesIO(garbage)) == ()


def test_needed_of_a_truncated_library(libraries: dict[str, Path]) -> None:
    data = libraries["libb.so"].read_bytes()
    for cut in (16, 64, 200, len(data) // 2):
        assert isinstance(needed(data[:cut]), tuple)  # no exception, whatever is readable


def test_closure_follows_real_libraries_across_directories(libraries: dict[str, Path]) -> None:
    members = {
        "pkg/lib/libb.so": libraries["libb.so"],
        "pkg/lib/liba.so": libraries["liba.so"],
        "pkg.libs/libleaf.so.1": libraries["libleaf.so.1"],
        "pkg/lib/libunused.so": libraries["liba.so"],
    }
    deps = {member: needed(path.read_bytes()) for member, path in members.items()}
    assert closure(["pkg/lib/libb.so"], deps) == {
        "pkg/lib/libb.so",
        "pkg/lib/liba.so",
        "pkg.libs/libleaf.so.1",
    }
    assert closure(["pkg.libs/libleaf.so.1"], deps) == {"pkg.libs/libleaf.so.1"}
    assert closure([], deps) == set()


def test_closure_of_auditwheel_renamed_libraries_cycles_and_system_sonames() -> None:
    openblas = "numpy.libs/libscipy_openblas64_-ff651d7f.so"
    deps = {
        "numpy/_core/_multiarray_umath.cpython-311-x86_64-linux-gnu.so": (
            "libscipy_openblas64_-ff651d7f.so",
            "libc.so.6",
        ),
        openblas: ("libgfortran-040039e1.so.5.0.0", "libm.so.6"),
        "numpy.libs/libgfortran-040039e1.so.5.0.0": ("libquadmath-96973f99.so.0.0.0",),
        "numpy.libs/libquadmath-96973f99.so.0.0.0": (),
        "x/liba.so": ("libb.so",),
        "x/libb.so": ("liba.so",),
        "y/libb.so": (),
    }
    kept = closure(["numpy/_core/_multiarray_umath.cpython-311-x86_64-linux-gnu.so"], deps)
    assert kept == {
        "numpy/_core/_multiarray_umath.cpython-311-x86_64-linux-gnu.so",
        openblas,
        "numpy.libs/libgfortran-040039e1.so.5.0.0",
        "numpy.libs/libquadmath-96973f99.so.0.0.0",
    }
    # a cycle terminates; a soname two members carry keeps both
    assert closure(["x/liba.so"], deps) == {"x/liba.so", "x/libb.so", "y/libb.so"}
    # a root that is not an ELF member is kept as is
    assert closure(["pkg/data.bin"], deps) == {"pkg/data.bin"}


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("torch/lib/libc10.so", True),
        ("torch/lib/libgomp.so.1", True),
        ("numpy.libs/libgfortran-040039e1.so.5.0.0", True),
        ("pkg/_ext.cpython-311-x86_64-linux-gnu.so", True),
        ("pkg/so.py", False),
        ("pkg/lib.so.txt", False),
        ("pkg/libfoo.so.1a", False),
    ],
)
def test_is_shared_object_name(path: str, expected: bool) -> None:
    assert is_shared_object_name(path) is expected
