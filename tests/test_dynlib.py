"""Shared libraries: the dynamic facts of real libraries built with gcc, soname resolution
as the loader does it (run paths with $ORIGIN, then by file name), and closure."""

from __future__ import annotations

import io
import shutil
import subprocess
from pathlib import Path

import pytest

from lean_install.runtime.dynlib import (
    Dynamic,
    Libraries,
    closure,
    is_shared_object_name,
    read_dynamic,
)


def needed(data: object) -> tuple[str, ...]:
    return read_dynamic(data).needed  # type: ignore[arg-type]


def deps_closure(roots: list[str], deps: dict[str, tuple[str, ...]]) -> set[str]:
    """Closure by file name over ``deps`` (no run paths), as auditwheel lays wheels out."""
    tree = Libraries(deps)
    return closure(
        roots, lambda m: [p for s in deps.get(m, ()) for p in tree.resolve(s, m, Dynamic())]
    )


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
    assert deps_closure(["pkg/lib/libb.so"], deps) == {
        "pkg/lib/libb.so",
        "pkg/lib/liba.so",
        "pkg.libs/libleaf.so.1",
    }
    assert deps_closure(["pkg.libs/libleaf.so.1"], deps) == {"pkg.libs/libleaf.so.1"}
    assert deps_closure([], deps) == set()


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
    kept = deps_closure(["numpy/_core/_multiarray_umath.cpython-311-x86_64-linux-gnu.so"], deps)
    assert kept == {
        "numpy/_core/_multiarray_umath.cpython-311-x86_64-linux-gnu.so",
        openblas,
        "numpy.libs/libgfortran-040039e1.so.5.0.0",
        "numpy.libs/libquadmath-96973f99.so.0.0.0",
    }
    # a cycle terminates; a soname two members carry keeps both
    assert deps_closure(["x/liba.so"], deps) == {"x/liba.so", "x/libb.so", "y/libb.so"}
    # a root that is not an ELF member is kept as is
    assert deps_closure(["pkg/data.bin"], deps) == {"pkg/data.bin"}


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


def test_runpath_with_origin_finds_the_library_in_another_distribution(tmp_path: Path) -> None:
    """torch/lib/libtorch_cuda.so with RUNPATH $ORIGIN/../../nvidia/cudnn/lib needs
    libcudnn.so.9: the loader takes nvidia/cudnn/lib/libcudnn.so.9, not another copy."""
    gcc = shutil.which("gcc")
    if gcc is None:
        pytest.skip("gcc is not installed")
    (tmp_path / "dep.c").write_text("int dep(void) { return 1; }\n")
    (tmp_path / "main.c").write_text("int dep(void);\nint top(void) { return dep(); }\n")
    subprocess.run(
        [gcc, "-shared", "-fPIC", "-Wl,-soname,libcudnn.so.9", "-o", "libcudnn.so.9", "dep.c"],
        cwd=tmp_path,
        check=True,
    )
    subprocess.run(
        [
            gcc,
            "-shared",
            "-fPIC",
            "-o",
            "libtop.so",
            "main.c",
            "-L.",
            "-l:libcudnn.so.9",
            "-Wl,--enable-new-dtags,-rpath,$ORIGIN/../../nvidia/cudnn/lib",
        ],
        cwd=tmp_path,
        check=True,
    )
    top = read_dynamic((tmp_path / "libtop.so").read_bytes())
    assert top.needed[0] == "libcudnn.so.9"
    assert top.runpath == ("$ORIGIN/../../nvidia/cudnn/lib",) and top.rpath == ()
    assert read_dynamic((tmp_path / "libcudnn.so.9").read_bytes()).soname == "libcudnn.so.9"
    tree = Libraries(
        ["torch/lib/libtop.so", "nvidia/cudnn/lib/libcudnn.so.9", "other/libcudnn.so.9"]
    )
    assert tree.resolve("libcudnn.so.9", "torch/lib/libtop.so", top) == (
        "nvidia/cudnn/lib/libcudnn.so.9",
    )
    # without a run path that reaches it: every file of that name (safety beats size)
    assert set(tree.resolve("libcudnn.so.9", "torch/lib/libtop.so", Dynamic())) == {
        "nvidia/cudnn/lib/libcudnn.so.9",
        "other/libcudnn.so.9",
    }
    # a run path that climbs out of the tree is ignored; the system's libraries resolve to none
    escaping = Dynamic(runpath=("$ORIGIN/../../../../outside",))
    assert len(tree.resolve("libcudnn.so.9", "torch/lib/libtop.so", escaping)) == 2
    assert tree.resolve("libc.so.6", "torch/lib/libtop.so", top) == ()


def test_read_dynamic_reads_through_a_reader_function(libraries: dict[str, Path]) -> None:
    data = libraries["libb.so"].read_bytes()
    reads: list[tuple[int, int]] = []

    def read_at(offset: int, size: int) -> bytes:
        reads.append((offset, size))
        return data[offset : offset + size]

    assert read_dynamic(read_at).needed == needed(data)
    assert sum(size for _, size in reads) < len(data) + 4096 * 4  # headers and strings only
