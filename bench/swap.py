"""The same-release swap on real wheels: torch 2.13.0's CUDA build for its CPU build.

    python bench/swap.py [--work DIR] [--out FILE]

Every install reads pip's sources without this machine's configuration
(``PIP_CONFIG_FILE=/dev/null`` and no ``PIP_FIND_LINKS``: the package index only), so
``torch==2.13.0`` resolves to the CUDA build. *full*: plain ``pip install torch==2.13.0``,
the CUDA build and its nvidia wheels (several GB, downloaded once: the pip cache is kept
in ``--work``). *lean*: ``lean-install install --profile PROFILE --variant-find-links
/opt/wheels torch==2.13.0``, where ``/opt/wheels`` holds the local ``2.13.0+cpu`` wheel:
the plan swaps, and what the swap avoided downloading is the plan's own figure. Two
profiles: the bundled ``torch-cpu`` (31 everyday programs) and ``torch_train.py`` traced
in the full CUDA env, as a user would. The training workload runs in every env. Prints
Markdown, writes JSON; nothing asserts.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from heldout import run_workload, sizes  # noqa: E402
from run import base_env, new_venv, site_packages  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
WORKLOAD = REPO / "profiles" / "workloads" / "torch_train.py"
PROFILE = REPO / "profiles" / "torch-cpu.toml"
REQUIREMENT = "torch==2.13.0"
VARIANTS = "/opt/wheels"


def call(cmd: list[str], env: dict[str, str]) -> tuple[float, subprocess.CompletedProcess[str]]:
    start = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if done.returncode != 0:
        sys.exit(f"failed (exit {done.returncode}): {' '.join(cmd)}\n{done.stderr[-3000:]}")
    return time.perf_counter() - start, done


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=Path.home() / ".cache/lean-install-bench")
    parser.add_argument("--out", type=Path, default=Path("bench/results/swap.json"))
    args = parser.parse_args(argv)
    work = args.work / "swap"
    env = base_env(PIP_CACHE_DIR=work / "pip-cache", LEAN_INSTALL_CACHE_DIR=work / "lean-cache")
    env["PIP_CONFIG_FILE"] = "/dev/null"  # no configured find-links, index or cap
    env.pop("PIP_FIND_LINKS", None)
    shutil.rmtree(work / "full", ignore_errors=True)
    full = new_venv(work / "full")
    full_s, _ = call([str(full), "-m", "pip", "install", "-q", REQUIREMENT], env)
    traced = work / "torch_train.toml"  # what a user does: trace the workload where it runs
    traced.unlink(missing_ok=True)
    call([sys.executable, "-m", "lean_install", "trace", "-o", str(traced), "--", str(full),
          str(WORKLOAD), str(work / "run")], env)  # fmt: skip
    result: dict[str, Any] = {
        "requirement": REQUIREMENT,
        "full": sizes(site_packages(full)) | {"seconds": full_s},
        "full_workload": run_workload(full, WORKLOAD, work / "run")[0],
        "lean": [lean_case(name, profile, work, env)
                 for name, profile in (("torch-cpu", PROFILE), ("torch_train.py", traced))],
    }  # fmt: skip
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(render(result))
    return 0


def lean_case(name: str, profile: Path, work: Path, env: dict[str, str]) -> dict[str, Any]:
    """The lean install with ``profile`` (swapping to the CPU build), measured."""
    venv = work / f"lean-{name}"
    shutil.rmtree(venv, ignore_errors=True)
    lean = new_venv(venv)
    lean_cmd = [sys.executable, "-m", "lean_install", "install", "--python", str(lean),
                "--profile", str(profile), "--variant-find-links", VARIANTS, "-q"]  # fmt: skip
    _, dry = call([*lean_cmd, "--dry-run", "--json", REQUIREMENT], env)
    plan = json.loads(dry.stdout)["plan"]
    lean_s, _ = call([*lean_cmd, REQUIREMENT], env)
    torch = next(d for d in plan["distributions"] if d["name"] == "torch")
    return {
        "profile": name,
        "sizes": sizes(site_packages(lean)) | {"seconds": lean_s},
        "torch": {k: torch.get(k) for k in ("decision", "version", "swap", "reason")},
        "workload": run_workload(lean, WORKLOAD, work / "run")[0],
    }


def render(r: dict[str, Any]) -> str:
    full = r["full"]
    ok = {True: "passes", False: "FAILS"}
    lines = [
        "| env | profile | site-packages MB | files | /full | torch_train.py |",
        "|---|---|---:|---:|---:|---|",
        f"| full: `pip install {r['requirement']}` (CUDA build) | | {full['bytes'] / 1e6:,.1f} "
        f"| {full['files']:,} | 1.00 | {ok[r['full_workload']]} |",
    ]
    for case in r["lean"]:
        lean, torch = case["sizes"], case["torch"]
        lines.append(
            f"| lean: `{torch['decision']}` to `{torch['version']}` | {case['profile']} | "
            f"{lean['bytes'] / 1e6:,.1f} | {lean['files']:,} | {lean['bytes'] / full['bytes']:.3f} "
            f"| {ok[case['workload']]} |"
        )
    swap = r["lean"][0]["torch"].get("swap") or {}
    lines += [
        "",
        f"torch: swapped from {swap.get('version')}; download avoided "
        f"{swap.get('download-avoided', 0) / 1e9:.2f} GB; dependencies dropped: "
        f"{', '.join(swap.get('dropped-dependencies', [])) or 'none'}.",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
