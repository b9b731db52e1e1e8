"""GPU architecture pruning on a real fatbin: one kernel built by NVIDIA's ptxas for sm_75,
sm_80 and sm_90 and put in a fatbin with its PTX by NVIDIA's fatbinary
(``tests/data/fatbin/make.sh``), linked by gcc into a shared library's ``.nv_fatbin``, pruned,
and read back by NVIDIA's cuobjdump (the ``nvidia-cuda-cuobjdump`` wheel, a test dependency).
Then the lean install that carries it, with the real pip, its holes, and ``restore``."""

from __future__ import annotations

import json
import shutil
import struct
import subprocess
import sys
import sysconfig
from collections import Counter
from pathlib import Path

import pytest
from conftest import build_wheel, create_venv, site_packages

from lean_install import fatbin
from lean_install.cli import main
from lean_install.errors import UsageError
from lean_install.fatbin import Pruned, containers, prune, section, sparsify, verify
from lean_install.wheel import OriginalWheel

DATA = Path(__file__).parent / "data" / "fatbin"
FATBIN = (DATA / "k.fatbin").read_bytes()
CUBIN_75, CUBIN_80, CUBIN_90, PTX_75 = 3048, 3176, 3376, 272
"""The entries of k.fatbin (header and padded payload), in its order."""


INIT = (
    "import ctypes, pathlib\nlib = ctypes.CDLL(str(pathlib.Path(__file__).parent / 'libgpu.so'))\n"
)


def _cuobjdump() -> str:
    found = shutil.which("cuobjdump")
    bundled = Path(sysconfig.get_paths()["purelib"]) / "nvidia" / "cu13" / "bin" / "cuobjdump"
    if found is None and not bundled.is_file():
        pytest.fail("cuobjdump is missing: pip install nvidia-cuda-cuobjdump (the test extra "
                    "installs it on Linux x86_64), or put NVIDIA's cuobjdump on PATH")  # fmt: skip
    return found or str(bundled)


def _library(directory: Path, fat: bytes = FATBIN) -> Path:
    """A gcc-built shared library with ``fat`` as its ``.nv_fatbin`` and ``answer()``."""
    directory.mkdir(parents=True, exist_ok=True)
    array = ",".join(str(b) for b in fat)
    source = directory / "gpu.c"
    source.write_text(
        '__attribute__((section(".nv_fatbin"), aligned(8), used))\n'
        f"static const unsigned char fatbin[{len(fat)}] = {{{array}}};\n"
        "int answer(void) { return 42; }\n"
    )
    output = directory / "libgpu.so"
    subprocess.run(["gcc", "-shared", "-fPIC", "-O1", "-o", str(output), str(source)], check=True)
    return output


def _listing(path: Path) -> list[str]:
    """cuobjdump's names of the cubins and PTX in ``path``, without the file's own name."""
    done = subprocess.run([_cuobjdump(), "-lelf", "-lptx", str(path)], capture_output=True,
                          text=True, check=True)  # fmt: skip
    return [line.split()[0] + " " + line.rsplit(".", 2)[-2] for line in done.stdout.splitlines()]


def _cubins(path: Path, into: Path) -> dict[str, bytes]:
    """Every cubin cuobjdump extracts from ``path``, by architecture."""
    into.mkdir()
    subprocess.run([_cuobjdump(), "-xelf", "all", str(path)], cwd=into, check=True,
                   capture_output=True)  # fmt: skip
    return {p.name.rsplit(".", 2)[-2]: p.read_bytes() for p in into.iterdir()}


def _answer(path: Path) -> str:
    code = f"import ctypes; print(ctypes.CDLL({str(path)!r}).answer())"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    return done.stdout.strip() or done.stderr


def _container(*entries: bytes) -> bytes:
    body = b"".join(entries)
    return struct.pack("<IHHQ", 0xBA55ED50, 1, 16, len(body)) + body


def _entries(fat: bytes = FATBIN) -> list[bytes]:
    (container,) = containers(fat, 0, len(fat))
    return [fat[e.offset : e.offset + e.size] for e in container.entries]


def _wide() -> bytes:
    """Four containers assembled from k.fatbin's entries, each with twenty sm_75 and sm_80
    cubins before its sm_90 one and its PTX: long runs of bytes to free."""
    c75, c80, c90, ptx = _entries()
    return _container(*([c75, c80] * 20), c90, ptx) * 4


WIDE_FREED = 4 * 20 * (CUBIN_75 + CUBIN_80)


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _library(tmp_path_factory.mktemp("gpu"))


def test_the_fatbin_reads_as_nvidia_made_it(library: Path) -> None:
    data = library.read_bytes()
    (found,) = containers(data, *section(data))  # type: ignore[misc]
    assert [(e.kind, e.arch, e.size) for e in found.entries] == [
        (2, 75, CUBIN_75), (2, 80, CUBIN_80), (2, 90, CUBIN_90), (1, 75, PTX_75)]  # fmt: skip
    assert _listing(library) == ["ELF sm_75", "ELF sm_80", "ELF sm_90", "PTX sm_75"]


def test_pruning_keeps_the_gpus_cubin_and_the_ptx_in_place(library: Path, tmp_path: Path) -> None:
    data = library.read_bytes()
    pruned = prune(data, (90,))
    assert pruned is not None
    assert pruned.freed == CUBIN_75 + CUBIN_80 and pruned.removed == {75: CUBIN_75, 80: CUBIN_80}
    assert len(pruned.data) == len(data)
    start, size = section(data)  # type: ignore[misc]
    assert (
        pruned.data[:start] == data[:start] and pruned.data[start + size :] == data[start + size :]
    )
    assert pruned.data[start + size - pruned.freed : start + size] == bytes(pruned.freed)
    out = tmp_path / "libgpu.so"
    out.write_bytes(pruned.data)
    assert _listing(out) == ["ELF sm_90", "PTX sm_75"]
    assert _cubins(out, tmp_path / "after") == {
        "sm_90": _cubins(library, tmp_path / "before")["sm_90"]
    }
    assert _answer(out) == "42"


@pytest.mark.parametrize(
    ("targets", "kept"),
    [
        ((86,), ["sm_80", "ptx"]),  # an sm_80 cubin runs on 8.6: the highest one of its major
        ((80, 90), ["sm_80", "sm_90", "ptx"]),
        ((100,), ["ptx"]),  # no cubin for 10.0: its PTX is what it compiles
        ((75, 80, 90), None),  # nothing to remove
    ],
)
def test_which_cubins_an_architecture_keeps(library: Path, targets: tuple[int, ...],
                                            kept: list[str] | None) -> None:  # fmt: skip
    data = library.read_bytes()
    pruned = prune(data, targets)
    if kept is None:
        assert pruned is None
        return
    assert pruned is not None
    (found,) = containers(pruned.data, *section(data))  # type: ignore[misc]
    assert [f"sm_{e.arch}" if e.kind == 2 else "ptx" for e in found.entries] == kept


def test_a_container_with_nothing_the_gpu_could_load_stays_whole(tmp_path: Path) -> None:
    cubins = _entries()[:3]
    fat = _container(*cubins[:2]) + _container(*cubins)  # sm_75, sm_80; then all three
    data = _library(tmp_path, fat).read_bytes()
    pruned = prune(data, (90,))
    assert pruned is not None
    first, second = containers(pruned.data, *section(data))  # type: ignore[misc]
    assert [e.arch for e in first.entries] == [75, 80] and [e.arch for e in second.entries] == [90]
    assert pruned.freed == CUBIN_75 + CUBIN_80


def test_what_does_not_read_as_fatbins_is_left_whole(library: Path, tmp_path: Path) -> None:
    assert prune(b"not a library", (90,)) is None
    plain = tmp_path / "plain"
    plain.mkdir()
    (plain / "p.c").write_text("int answer(void) { return 1; }\n")
    subprocess.run(["gcc", "-shared", "-fPIC", "-o", str(plain / "p.so"), str(plain / "p.c")],
                   check=True)  # fmt: skip
    assert prune((plain / "p.so").read_bytes(), (90,)) is None  # no .nv_fatbin
    garbage = FATBIN + b"\x01" + bytes(7)  # a byte no container explains
    assert prune(_library(tmp_path / "g", garbage).read_bytes(), (90,)) is None
    entries = _entries()
    overrun = bytearray(entries[0])
    overrun[8:16] = struct.pack("<Q", 1 << 20)  # a payload past its container's end
    broken = _container(bytes(overrun), *entries[1:])
    assert prune(_library(tmp_path / "o", broken).read_bytes(), (90,)) is None


def test_verification_catches_what_pruning_must_not_do(library: Path) -> None:
    data = library.read_bytes()
    pruned = prune(data, (90,))
    assert pruned is not None and verify(data, pruned, (90,)) is None
    start, size = section(data)  # type: ignore[misc]
    for offset, why in [
        (100, "outside"),
        (start + 16 + 70, "does not hold"),
        (start + size - 8, "container"),
    ]:  # a byte left in the zeros; fmt: skip
        changed = bytearray(pruned.data)
        changed[offset] ^= 0xFF
        reason = verify(data, Pruned(bytes(changed), pruned.freed, pruned.removed), (90,))
        assert reason is not None and why in reason, (offset, reason)
    assert verify(data, Pruned(pruned.data, pruned.freed + 1, pruned.removed), (90,)) is not None


def test_zeroed_bytes_become_holes_with_the_contents_unchanged(tmp_path: Path) -> None:
    data = _library(tmp_path, _wide()).read_bytes()
    pruned = prune(data, (90,))
    assert pruned is not None and pruned.freed == WIDE_FREED
    path = tmp_path / "pruned.so"
    path.write_bytes(pruned.data)
    before = path.stat().st_blocks
    punched = sparsify(str(path))
    assert WIDE_FREED - 4 * 2 * 4096 <= punched <= WIDE_FREED  # whole blocks of each run
    assert path.stat().st_blocks * 512 == before * 512 - punched
    assert path.read_bytes() == pruned.data
    assert _answer(path) == "42"


def test_gpu_arch_names_are_checked() -> None:
    assert fatbin.archs("sm_90, sm_80,90a") == (80, 90)
    with pytest.raises(UsageError, match="not a GPU architecture"):
        fatbin.archs("hopper")


# -- the lean install -------------------------------------------------------------------------


def test_a_lean_install_keeps_one_gpus_code_as_holes_its_lock_too_and_restore_undoes_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("LEAN_INSTALL_CACHE_DIR", str(tmp_path / "cache"))
    library = _library(tmp_path / "lib", _wide()).read_bytes()
    files = {"gpulib/__init__.py": INIT, "gpulib/libgpu.so": library}
    wheel = build_wheel(tmp_path / "wheels", "gpulib", "1.0", files, tag="py3-none-linux_x86_64")
    build_wheel(tmp_path / "wheels", "purelib", "1.0", {"purelib/__init__.py": ""})
    python = create_venv(tmp_path / "venv")
    argv = ["install", "--python", str(python), "--installer", "pip", "--policy", "safe", "-q",
            "--no-index", "--find-links", str(wheel.parent), "gpulib", "purelib"]  # fmt: skip
    assert main([*argv, "--gpu-arch", "sm_9x"]) == 2
    assert "not a GPU architecture: 'sm_9x'" in capsys.readouterr().err
    assert main([*argv, "--gpu-arch", "sm_90", "--json"]) == 0
    plan = {d["name"]: d for d in json.loads(capsys.readouterr().out)["plan"]["distributions"]}
    assert plan["gpulib"]["gpu-archs"] == [90] and plan["gpulib"]["decision"] == "strip"
    assert "gpu-archs" not in plan["purelib"]  # a pure-Python wheel holds no GPU code

    installed = site_packages(python) / "gpulib" / "libgpu.so"
    assert sorted(_listing(installed)) == ["ELF sm_90"] * 4 + ["PTX sm_75"] * 4
    allocated = installed.stat().st_blocks * 512
    assert allocated <= len(library) - WIDE_FREED + 4 * 2 * 4096  # holes, not zeros
    done = subprocess.run([str(python), "-c", "import gpulib; print(gpulib.lib.answer())"],
                          capture_output=True, text=True)  # fmt: skip
    assert done.stdout == "42\n", done.stderr
    check = subprocess.run([str(python), "-m", "pip", "check"], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout
    assert main(["report", "--python", str(python), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    (gpulib,) = [d for d in report["distributions"] if d["name"] == "gpulib"]
    removed = gpulib["removed"]
    assert removed["fatbins"] == WIDE_FREED and removed["bytes"] == WIDE_FREED + removed["symbols"]
    assert main(["report", "--python", str(python)]) == 0
    lines = capsys.readouterr().out.splitlines()
    header = next(line for line in lines if line.startswith("| distribution"))
    row = next(line for line in lines if line.startswith("| gpulib"))
    cells = [[c.strip() for c in line.split("|")] for line in (header, row)]
    columns = dict(zip(*cells, strict=True))
    assert columns["of it MB GPU code"] == f"{WIDE_FREED / 1e6:.1f}", columns
    assert "of it MB symbols" in columns

    pruned = installed.read_bytes()
    lock, synced = tmp_path / "pylock.toml", create_venv(tmp_path / "synced")
    assert main(["lock", "-o", str(lock), *argv[1:3], *argv[5:], "--gpu-arch", "sm_90"]) == 0
    assert main(["sync", str(lock), "--python", str(synced), "--installer", "pip", "-q"]) == 0
    again = site_packages(synced) / "gpulib" / "libgpu.so"  # the lock carries --gpu-arch
    assert again.read_bytes() == pruned and again.stat().st_blocks == installed.stat().st_blocks

    assert main(["restore", "--python", str(python), "--installer", "pip", "-q", "gpulib"]) == 0
    assert installed.read_bytes() == library


@pytest.mark.slow
def test_the_cuda_builds_libtorch_cuda_keeps_the_hopper_code_only(tmp_path: Path) -> None:
    """The real thing: ``libtorch_cuda.so`` of the wheel unpinned ``torch`` resolves to
    (2.14.1's CUDA build: 503 MB, cubins for nine architectures)."""
    report = subprocess.run([sys.executable, "-m", "pip", "install", "--dry-run", "-q",
                             "--ignore-installed", "--no-deps", "--report", "-", "torch"],
                            capture_output=True, text=True, check=True)  # fmt: skip
    (item,) = json.loads(report.stdout)["install"]
    url = item["download_info"]["url"]
    if not url.startswith("file://"):
        subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "-d",
                        str(tmp_path), url], check=True)  # fmt: skip
    path = Path(url.removeprefix("file://")) if url.startswith("file://") else next(
        tmp_path.glob("torch-*.whl"))  # fmt: skip
    with OriginalWheel.open(path) as wheel:
        data = wheel.read("torch/lib/libtorch_cuda.so")
    before = containers(data, *section(data))  # type: ignore[misc]
    hopper = sum(e.is_cubin and e.arch == 90 for c in before for e in c.entries)
    assert len({e.arch for c in before for e in c.entries}) > 5
    pruned = prune(data, (90,))
    assert pruned is not None and pruned.freed > len(data) // 3
    out = tmp_path / "libtorch_cuda.so"
    out.write_bytes(pruned.data)
    listed = Counter(line.split()[-1] for line in _listing(out))
    assert set(listed) <= {"sm_90", "sm_90a"} and sum(listed.values()) == hopper
