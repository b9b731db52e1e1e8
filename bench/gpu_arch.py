"""GPU architecture pruning on the real CUDA torch: 2.14.1's wheel and its nvidia wheels.

    python bench/gpu_arch.py [--arch sm_90] [--work DIR] [--out FILE] [--no-install]

*Libraries*: every shared library in the wheels that unpinned ``torch`` resolves to (pip's
own report, as ``pip install torch`` would) is pruned by ``fatbin.prune`` as a lean wheel
build does: its size, its ``.nv_fatbin``, the bytes freed; and compressed, as a wheel holds
them (the original member's compressed size; the pruned library deflated, level 6). Then
NVIDIA's ``cuobjdump`` lists the cubins of each pruned library: they must be exactly the
ones the parse says it kept (the architecture's, and those of containers kept whole
because nothing in them runs there).

*Install*: ``lean-install install --policy safe --gpu-arch ARCH torch`` into a fresh venv
beside plain ``uv pip install torch``: bytes on disk (apparent and allocated); the training
workload on the CPU (every pruned library that ``import torch`` maps is loaded); then
``lean-install restore --all``, after which every file of every distribution must hash as
its RECORD says (the original bytes). Prints Markdown, writes JSON; nothing asserts.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import json
import shutil
import stat
import subprocess
import sys
import tempfile
import time
import zlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run import base_env, new_venv, site_packages, uv_binary, uv_sources  # noqa: E402

from lean_install import fatbin  # noqa: E402
from lean_install.runtime.layout import record_hash  # noqa: E402
from lean_install.symbols import is_candidate  # noqa: E402
from lean_install.wheel import OriginalWheel  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
WORKLOAD = REPO / "profiles" / "workloads" / "torch_train.py"
CUOBJDUMP = Path(sys.prefix) / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}"
CUOBJDUMP = CUOBJDUMP / "site-packages" / "nvidia" / "cu13" / "bin" / "cuobjdump"


def wheels(work: Path) -> list[Path]:
    """The wheels ``pip install torch`` would install here, by pip's report."""
    report = [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--dry-run",
        "-q",
        "--ignore-installed",
        "--report",
        "-",
        "torch",
    ]
    found = []
    for item in json.loads(
        subprocess.run(report, capture_output=True, text=True, check=True).stdout
    )["install"]:
        url = urlparse(item["download_info"]["url"])
        if url.scheme == "file":
            found.append(Path(unquote(url.path)))
            continue
        downloads = work / "downloads"
        name = Path(unquote(url.path)).name
        if not (downloads / name).is_file():
            subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "pip",
                    "download",
                    "-q",
                    "--no-deps",
                    "-d",
                    str(downloads),
                    url.geturl(),
                ],
                check=True,
            )
        found.append(downloads / name)
    return sorted(found)


def listed(path: Path) -> collections.Counter[str]:
    """cuobjdump's cubins in ``path``, by architecture (``sm_90a`` apart from ``sm_90``)."""
    done = subprocess.run([str(CUOBJDUMP), "-lelf", str(path)], capture_output=True, text=True)
    return collections.Counter(line.rsplit(".", 2)[-2] for line in done.stdout.splitlines())


def kept_by_parse(data: bytes) -> int:
    where = fatbin.section(data)
    found = fatbin.containers(data, *where) if where else []
    return sum(e.is_cubin for c in found for e in c.entries)


def library_row(wheel: OriginalWheel, member: str, targets: tuple[int, ...]) -> dict[str, Any]:
    data = wheel.read(member)
    where = fatbin.section(data)
    start = time.perf_counter()
    pruned = fatbin.prune(data, targets) if where else None
    row: dict[str, Any] = {
        "wheel": wheel.path.name.split("-")[0],
        "library": member.rpartition("/")[2],
        "bytes": len(data),
        "fatbin": where[1] if where else 0,
        "freed": pruned.freed if pruned else 0,
        "prune_s": time.perf_counter() - start,
        "compressed": wheel.members[member].compressed_size,
    }
    if pruned is None:
        row["compressed_pruned"] = row["compressed"]
        return row
    row["compressed_pruned"] = len(zlib.compress(pruned.data, 6))
    row["removed_by_arch"] = {f"sm_{a}": n for a, n in pruned.removed.items()}
    with tempfile.NamedTemporaryFile(suffix=".so") as out:
        out.write(pruned.data)
        out.flush()
        cubins = listed(Path(out.name))
    row["cuobjdump"] = dict(sorted(cubins.items()))
    row["cuobjdump_matches_parse"] = sum(cubins.values()) == kept_by_parse(pruned.data)
    return row


def libraries(paths: list[Path], targets: tuple[int, ...]) -> list[dict[str, Any]]:
    with contextlib.ExitStack() as stack, ThreadPoolExecutor(2) as pool:  # zlib lets go of the GIL
        jobs = []
        for path in paths:
            wheel = stack.enter_context(OriginalWheel.open(path))
            jobs += [(wheel, m) for m in wheel.members if is_candidate(m)]
        rows = list(pool.map(lambda job: library_row(job[0], job[1], targets), jobs))
    return [r for r in rows if r["fatbin"]]


def allocated(root: Path) -> tuple[int, int]:
    """(apparent, allocated) bytes of the regular files under ``root``."""
    size = blocks = 0
    for path in root.rglob("*"):
        st = path.lstat()
        if stat.S_ISREG(st.st_mode):
            size, blocks = size + st.st_size, blocks + st.st_blocks * 512
    return size, blocks


def records_hold(python: Path) -> tuple[int, list[str]]:
    """Files checked against their distributions' RECORD hashes, and those that differ."""
    root = site_packages(python)
    checked, wrong = 0, []
    for record in root.glob("*.dist-info/RECORD"):
        for line in record.read_text().splitlines():
            path, hash_field, _ = line.rsplit(",", 2)
            if not hash_field or not (root / path).is_file():
                continue
            checked += 1
            if record_hash((root / path).read_bytes()) != hash_field:
                wrong.append(path)
    return checked, wrong


def install(arch: str, work: Path) -> dict[str, Any]:
    env = base_env(LEAN_INSTALL_CACHE_DIR=work / "lean-cache")
    out: dict[str, Any] = {}
    full = new_venv(work / "full")
    start = time.perf_counter()
    subprocess.run(
        [uv_binary(), "pip", "install", "-q", "--python", str(full), *uv_sources(), "torch"],
        check=True,
        env=env,
    )
    out["full_s"] = time.perf_counter() - start
    out["full"] = allocated(site_packages(full))
    lean = new_venv(work / "lean")
    command = [
        sys.executable,
        "-m",
        "lean_install",
        "install",
        "--python",
        str(lean),
        "-q",
        "--policy",
        "safe",
        "--gpu-arch",
        arch,
        "torch",
    ]
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, env=env)
    out["lean_s"] = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"lean install failed:\n{done.stderr[-3000:]}")
    out["lean"] = allocated(site_packages(lean))
    report = subprocess.run(
        [sys.executable, "-m", "lean_install", "report", "--python", str(lean), "--json"],
        capture_output=True,
        text=True,
        check=True,
    )
    removed = [d["removed"] for d in json.loads(report.stdout)["distributions"] if d.get("removed")]
    out["report_fatbins"] = sum(r.get("fatbins", 0) for r in removed)
    out["report_symbols"] = sum(r.get("symbols", 0) for r in removed)
    ran = subprocess.run([str(lean), str(WORKLOAD)], capture_output=True, text=True)
    out["workload_ok"] = ran.returncode == 0
    restore = [
        sys.executable,
        "-m",
        "lean_install",
        "restore",
        "--python",
        str(lean),
        "--all",
        "-q",
    ]
    out["restore_ok"] = (
        subprocess.run(restore, capture_output=True, text=True, env=env).returncode == 0
    )
    out["restored"] = allocated(site_packages(lean))
    out["record_checked"], out["record_wrong"] = records_hold(lean)
    return out


def mb(n: int) -> str:
    return f"{n / 1e6:,.1f}"


def table(rows: list[dict[str, Any]], arch: str) -> list[str]:
    lines = [
        f"GPU architecture pruning to {arch}: libraries with a `.nv_fatbin`",
        "",
        "| wheel | library | MB | fatbin MB | freed MB | compressed MB | pruned, compressed "
        "MB | cuobjdump lists | as parsed |",
        "|---|---|---:|---:|---:|---:|---:|---|---|",
    ]
    for r in sorted(rows, key=lambda r: -r["freed"]):
        listing = r.get("cuobjdump")
        cubins = ", ".join(f"{a} {n}" for a, n in (listing or {}).items())
        cubins = cubins or ("not pruned" if listing is None else "no cubin left (PTX kept)")
        same = {True: "yes", False: "NO", None: "–"}[r.get("cuobjdump_matches_parse")]
        lines.append(
            f"| {r['wheel']} | {r['library']} | {mb(r['bytes'])} | {mb(r['fatbin'])} | "
            f"{mb(r['freed'])} | {mb(r['compressed'])} | {mb(r['compressed_pruned'])} | "
            f"{cubins} | {same} |"
        )
    total = {
        k: sum(r[k] for r in rows)
        for k in ("bytes", "fatbin", "freed", "compressed", "compressed_pruned")
    }
    pruned = sum(1 for r in rows if r["freed"])
    lines.append(
        f"| **all** | {len(rows)} libraries, {pruned} pruned | {mb(total['bytes'])} | "
        f"{mb(total['fatbin'])} | {mb(total['freed'])} | {mb(total['compressed'])} | "
        f"{mb(total['compressed_pruned'])} | | |"
    )
    return lines


def install_lines(result: dict[str, Any], arch: str) -> list[str]:
    full, lean, back = result["full"], result["lean"], result["restored"]
    return [
        "",
        f"Install (`--policy safe --gpu-arch {arch}`, uv), MB apparent / allocated:",
        "",
        f"- plain uv: {mb(full[0])} / {mb(full[1])} ({result['full_s']:.0f} s)",
        f"- lean: {mb(lean[0])} / {mb(lean[1])} ({result['lean_s']:.0f} s); allocated "
        f"{lean[1] / full[1]:.2f} of plain; report: {mb(result['report_fatbins'])} MB other "
        f"GPUs' code, {mb(result['report_symbols'])} MB symbol tables",
        f"- the training workload: {'passes' if result['workload_ok'] else 'FAILS'}",
        f"- restore --all: {'ok' if result['restore_ok'] else 'FAILED'}; {mb(back[0])} / "
        f"{mb(back[1])}; {result['record_checked']} files checked against RECORD, "
        f"{len(result['record_wrong'])} differ",
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arch", default="sm_90")
    parser.add_argument("--work", type=Path, default=Path.home() / ".cache/lean-install-bench")
    parser.add_argument("--out", type=Path, default=Path("bench/results/gpu_arch.json"))
    parser.add_argument("--no-install", action="store_true", help="the library table only")
    args = parser.parse_args(argv)
    work = args.work / "gpu-arch"
    work.mkdir(parents=True, exist_ok=True)
    targets = fatbin.archs(args.arch)
    rows = libraries(wheels(work), targets)
    result: dict[str, Any] = {"arch": args.arch, "libraries": rows}
    lines = table(rows, args.arch)
    if not args.no_install:
        for venv in ("full", "lean"):
            shutil.rmtree(work / venv, ignore_errors=True)
        result["install"] = install(args.arch, work)
        lines += install_lines(result["install"], args.arch)
    print("\n".join(lines))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
