"""The tabular stack as conda packages: how lean ``conda lean strip`` makes a real prefix.

    python bench/conda_tabular.py [--work DIR] [--json FILE] [--pack] [--no-bytecode]

Against the real conda 26.7.1 (tests/condakit.py installs it from shared/vendor/): the
PyPI wheels of numpy, pandas and scikit-learn and their dependencies (``pip download
--only-binary :all:``) become conda packages (a wheel's files under
``lib/python3.11/site-packages/``, ``info/`` built by condakit), a local channel with a
relocatable CPython package; ``conda create`` makes a prefix; ``lean-install trace`` runs
profiles/workloads/tabular_sklearn.py with the prefix's python; ``conda lean strip``
strips the prefix; the workload runs again there and ``conda doctor`` checks it. With
``--pack``, ``conda lean pack`` writes the lean channel and a fresh prefix is made from
it, measured and checked the same way.

The packages carry their modules' bytecode (``__pycache__/*.cpython-311.pyc``), as
conda-build packages a Python package and conda-forge's numpy, pandas, scipy and
scikit-learn ship it; ``--no-bytecode`` packs the wheels' files only (no ``.pyc`` at all:
neither the full nor the lean prefix has any, and the ratio is higher).

Sizes are the files themselves: the sum of ``lstat().st_size`` of every regular file a
package's ``conda-meta`` record lists (a symlink counts 0; conda hard-links prefix files
from its package cache, so this is what the prefix holds, not what the disk frees).
The ``python`` package (the interpreter, kept whole by lean-install) is a row of its own
and the ratio is given with and without it. Nothing asserts timings.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

import condakit  # noqa: E402

__all__ = ["main", "measure"]

WORKLOAD = REPO / "profiles" / "workloads" / "tabular_sklearn.py"
REQUIREMENTS = ("numpy", "pandas", "scikit-learn")
SPECS = ("python", "numpy", "pandas", "scikit-learn")


def _log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def conda_with_lean_install() -> Path:
    """The conda venv's python, with this checkout of lean-install installed (editable)."""
    return condakit.with_lean_install(condakit.install_conda(condakit.default_venv_dir()), REPO)


def download_wheels(directory: Path) -> list[Path]:
    """The wheels of the stack for this Python (``pip download --only-binary :all:``)."""
    directory.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "pip", "download", "-q", "--disable-pip-version-check"]
    cmd += ["--only-binary", ":all:", "-d", str(directory), *REQUIREMENTS]
    subprocess.run(cmd, check=True)
    return sorted(directory.glob("*.whl"))


def make_channel(
    conda_python: Path, wheels: list[Path], channel: Path, *, bytecode: bool = True
) -> Path:
    python = condakit.python_package(
        condakit.default_venv_dir().parent / "python-package", tool_python=conda_python
    )
    if channel.exists():
        shutil.rmtree(channel)
    for wheel in wheels:
        condakit.wheel_package(channel, wheel, bytecode=bytecode, tool_python=conda_python)
    return condakit.index_channel(channel, [python], tool_python=conda_python)


def sizes(prefix: Path) -> dict[str, dict[str, int]]:
    """Per conda package of ``prefix``: its files on disk and their bytes."""
    found = {}
    for record in sorted((prefix / "conda-meta").glob("*.json")):
        data = json.loads(record.read_text())
        files = total = 0
        for path in data.get("files", []):
            full = prefix / path
            if full.is_file() and not full.is_symlink():
                files += 1
                total += full.lstat().st_size
        found[data["name"]] = {"files": files, "bytes": total}
    return found


def _doctor_clean(conda_python: Path, prefix: Path) -> bool:
    out = condakit.doctor(conda_python, prefix, "missing-files", "altered-files").stdout
    return condakit.parse_doctor(out) == {"missing": {}, "altered": {}}


def _workload(prefix: Path, work: Path) -> tuple[bool, str]:
    scratch = Path(tempfile.mkdtemp(dir=work))
    proc = condakit.run_in_prefix(prefix, WORKLOAD, scratch, check=False)
    return proc.returncode == 0 and "OK tabular_sklearn" in proc.stdout, (
        proc.stdout + proc.stderr
    ).strip()[-2000:]


def _trace(prefix: Path, profile: Path, work: Path) -> None:
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", "PYTHONNOUSERSITE": "1"}
    scratch = Path(tempfile.mkdtemp(dir=work))
    python = str(condakit.prefix_python(prefix))
    cmd = [sys.executable, "-m", "lean_install", "trace", "-o", str(profile), "--", python]
    proc = subprocess.run(
        [*cmd, str(WORKLOAD), str(scratch)], capture_output=True, text=True, env=env
    )
    if proc.returncode != 0:
        raise RuntimeError(f"trace failed:\n{proc.stdout}\n{proc.stderr}")


def _ratios(full: dict[str, dict[str, int]], lean: dict[str, dict[str, int]]) -> dict[str, Any]:
    def total(table: dict[str, dict[str, int]], python: bool) -> int:
        return sum(v["bytes"] for k, v in table.items() if python or k != "python")

    return {
        "full_bytes": total(full, True),
        "lean_bytes": total(lean, True),
        "full_bytes_without_python": total(full, False),
        "lean_bytes_without_python": total(lean, False),
        "ratio": total(lean, True) / total(full, True),
        "ratio_without_python": total(lean, False) / total(full, False),
    }


def measure(work: Path, *, pack: bool = False, bytecode: bool = True) -> dict[str, Any]:
    """Build, trace, strip and measure; the figures (and what passed) as a dict."""
    work.mkdir(parents=True, exist_ok=True)
    conda_python = conda_with_lean_install()
    _log("downloading the wheels")
    wheels = download_wheels(work / "wheels")
    _log(f"converting {len(wheels)} wheels into conda packages")
    channel = make_channel(conda_python, wheels, work / "channel", bytecode=bytecode)
    prefix = work / "env"
    for stale in (prefix, work / "pkgs"):
        if stale.exists():
            shutil.rmtree(stale)
    _log("conda create")
    condakit.create_prefix(conda_python, prefix, channel, *SPECS, pkgs_dir=work / "pkgs")
    full = sizes(prefix)
    workload_full, _ = _workload(prefix, work)
    _log("tracing the workload")
    profile = work / "tabular.toml"
    _trace(prefix, profile, work)
    _log("conda lean strip")
    strip = condakit.conda(
        conda_python, "lean", "strip", "-p", prefix, "--profile", profile, check=True
    )
    lean = sizes(prefix)
    passed, output = _workload(prefix, work)
    result: dict[str, Any] = {
        "bytecode": bytecode,
        "wheels": [w.name for w in wheels],
        "packages": {n: {"full": full[n], "lean": lean.get(n)} for n in sorted(full)},
        "workload_full_passes": workload_full,
        "workload_lean_passes": passed,
        "workload_output": output,
        "doctor_clean": _doctor_clean(conda_python, prefix),
        "strip_output": strip.stdout,
        **_ratios(full, lean),
    }
    if pack:
        _log("conda lean pack, and a fresh prefix from the lean channel")
        fresh, lean_channel = work / "fresh", work / "lean-channel"
        for stale in (fresh, lean_channel, work / "pkgs-fresh"):
            if stale.exists():
                shutil.rmtree(stale)
        condakit.conda(
            conda_python,
            "lean",
            "pack",
            "-p",
            prefix,
            "--profile",
            profile,
            "-o",
            lean_channel,
            check=True,
        )
        condakit.create_prefix(
            conda_python, fresh, lean_channel, *SPECS, pkgs_dir=work / "pkgs-fresh"
        )
        packed = sizes(fresh)
        fresh_passes, _ = _workload(fresh, work)
        result["fresh"] = {
            "workload_passes": fresh_passes,
            "doctor_clean": _doctor_clean(conda_python, fresh),
            **_ratios(full, packed),
        }
    return result


def table(result: dict[str, Any]) -> str:
    rows = ["| conda package | files full | bytes full | bytes lean | lean / full |"]
    rows.append("|---|---:|---:|---:|---:|")
    for name, row in result["packages"].items():
        full, lean = row["full"], row["lean"] or {"bytes": 0, "files": 0}
        ratio = lean["bytes"] / full["bytes"] if full["bytes"] else 1.0
        rows.append(
            f"| {name} | {full['files']:,} | {full['bytes']:,} | {lean['bytes']:,} | {ratio:.3f} |"
        )
    rows.append(
        f"| **all but python** | | {result['full_bytes_without_python']:,} | "
        f"{result['lean_bytes_without_python']:,} | **{result['ratio_without_python']:.3f}** |"
    )
    rows.append(
        f"| all, python included | | {result['full_bytes']:,} | {result['lean_bytes']:,} | "
        f"{result['ratio']:.3f} |"
    )
    said = "with" if result["bytecode"] else "without"
    lines = [f"packages {said} bytecode, from: {', '.join(result['wheels'])}", ""]
    lines += ["\n".join(rows), ""]
    lines.append(
        f"workload on the full prefix: {'passes' if result['workload_full_passes'] else 'FAILS'}"
        f"; on the stripped prefix: {'passes' if result['workload_lean_passes'] else 'FAILS'}"
        f"; conda doctor (missing, altered files): "
        f"{'clean' if result['doctor_clean'] else 'NOT clean'}"
    )
    fresh = result.get("fresh")
    if fresh:
        lines.append(
            f"fresh prefix from conda lean pack's channel: lean/full "
            f"{fresh['ratio_without_python']:.3f} without python ({fresh['ratio']:.3f} with); "
            f"workload {'passes' if fresh['workload_passes'] else 'FAILS'}; conda doctor "
            f"{'clean' if fresh['doctor_clean'] else 'NOT clean'}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--work", type=Path, default=None, help="work directory (kept)")
    parser.add_argument("--json", type=Path, default=None, help="write the figures here")
    parser.add_argument("--pack", action="store_true", help="conda lean pack + fresh prefix")
    parser.add_argument("--no-bytecode", action="store_true", help="packages without .pyc")
    args = parser.parse_args(argv)
    work = args.work or Path(tempfile.mkdtemp(prefix="conda-tabular-"))
    result = measure(work.absolute(), pack=args.pack, bytecode=not args.no_bytecode)
    if args.json:
        args.json.write_text(json.dumps(result, indent=1))
    print(table(result))
    if not result["workload_lean_passes"]:
        print(result["workload_output"], file=sys.stderr)
    return 0 if result["workload_lean_passes"] and result["doctor_clean"] else 1


if __name__ == "__main__":
    sys.exit(main())
