"""The curated profiles on programs they never traced; prints Markdown, writes JSON.

    python bench/heldout.py [--profiles torch-cpu,tabular] [--work DIR] [--out FILE]
                            [--hook-repeat N] [--request PROFILE=REQUIREMENTS]

For each curated profile (``profiles/workloads/curated.toml``): a full venv
(``pip install REQUIREMENTS``) and a lean one made as a user would, through the shell
integration and with no profile named (``eval "$(lean-install shell-hook)"; pip install
--lean REQUIREMENTS``: the bundled profile is chosen). Each held-out workload then runs in
the lean venv twice: in on-miss mode ``error`` (does it pass without a single miss, and
which miss if not), and after all of those in the default mode (``restore``). Sizes are
the bytes of site-packages' files, and the bytes allocated to them.

With ``torch-cpu``, the programs of ``tests/data/torch_untraced`` also run in its lean
venv with the startup hook on and off (``LEAN_INSTALL_STARTUP_HOOK=0``), after one run in
the default mode brought back what they need: the cost of the hook's data-file checks, as
a ratio of median wall times. Timings only report; nothing asserts.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import tomllib

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run import base_env, new_venv, site_packages  # noqa: E402

from lean_install.runtime.records import read_misses  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
RECIPES = tomllib.loads((REPO / "profiles" / "workloads" / "curated.toml").read_text())
UNTRACED = sorted((REPO / "tests" / "data" / "torch_untraced").glob("[0-9][0-9]_*.py"))


def _make() -> Any:
    spec = importlib.util.spec_from_file_location("profiles_make", REPO / "profiles" / "make.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def sizes(root: Path) -> dict[str, int]:
    """Bytes, allocated bytes and number of the regular files under ``root``."""
    total = allocated = files = 0
    for folder, _, names in os.walk(root):
        for name in names:
            st = os.lstat(os.path.join(folder, name))  # noqa: PTH118
            if st.st_mode & 0o170000 == 0o100000:
                total, allocated, files = (
                    total + st.st_size,
                    allocated + st.st_blocks * 512,
                    files + 1,
                )
    return {"bytes": total, "allocated": allocated, "files": files}


def activated(python: Path, **extra: str) -> dict[str, str]:
    """The environment of a shell where the venv of ``python`` is active."""
    env = base_env()
    env["VIRTUAL_ENV"] = str(python.parent.parent)
    env["PATH"] = f"{python.parent}{os.pathsep}{env['PATH']}"
    return env | extra


def shell(command: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", "-c", command], env=env, capture_output=True, text=True)


def run_workload(python: Path, workload: Path, work: Path, **extra: str) -> tuple[bool, float]:
    work.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    done = subprocess.run([str(python), str(workload), str(work)], capture_output=True,
                          text=True, env=activated(python, **extra), cwd=work)  # fmt: skip
    seconds = time.perf_counter() - start
    ok = done.returncode == 0 and any(line.startswith("OK") for line in done.stdout.splitlines())
    if not ok:
        print(f"  {workload.name} failed:", *done.stderr.strip().splitlines()[-4:], sep="\n    ")
    return ok, seconds


def heldout(name: str, work: Path, requirements: list[str]) -> dict[str, Any]:
    _, held_out = _make().workloads(name)
    shutil.rmtree(work, ignore_errors=True)
    full, lean = new_venv(work / "full"), new_venv(work / "lean")
    done = shell(f"pip install -q {shlex.join(requirements)}", activated(full))
    assert done.returncode == 0, done.stderr[-2000:]
    command = f'eval "$(lean-install shell-hook)"; pip install --lean {shlex.join(requirements)}'
    start = time.perf_counter()
    installed = shell(command, activated(lean))
    seconds = time.perf_counter() - start
    assert installed.returncode == 0, installed.stderr[-3000:]
    chosen = [line for line in installed.stderr.splitlines() if "profile" in line][:2]
    prefix = lean.parent.parent
    results = []
    for workload in held_out:  # mode error first: it changes nothing in the venv
        before = len(read_misses(prefix))
        ok, _ = run_workload(lean, REPO / workload, work / "run", LEAN_INSTALL_ON_MISS="error")
        misses = read_misses(prefix)[before:]
        results.append({"workload": workload, "passed_strict": ok,
                        "misses": sorted({m.module for m in misses})})  # fmt: skip
    for result in results:  # the default mode: removed code comes back when reached
        before = len(read_misses(prefix))
        result["passed_default"], _ = run_workload(lean, REPO / result["workload"], work / "run")
        restored = read_misses(prefix)[before:]
        result["restored"] = sorted({m.module for m in restored if m.outcome == "restored"})
        result["restored_bytes"] = sum(m.bytes for m in restored)
    check = subprocess.run([str(lean), "-m", "pip", "check"], capture_output=True, text=True)
    return {
        "profile": name,
        "requirements": requirements,
        "install_command": command,
        "install_seconds": round(seconds, 1),
        "install_lines": chosen,
        "full": sizes(site_packages(full)),
        "lean": sizes(site_packages(lean)),
        "workloads": results,
        "pip_check": check.returncode == 0,
        "lean_python": str(lean),
    }


def hook_cost(python: Path, work: Path, repeat: int) -> dict[str, Any]:
    """Each untraced program with the startup hook on and off; median seconds of each."""
    rows = []
    for program in UNTRACED:
        ok, _ = run_workload(python, program, work / "hook")  # brings back what it needs
        if not ok:
            rows.append({"program": program.name, "ok": False})
            continue
        on, off = [], []
        for _ in range(repeat):
            on.append(run_workload(python, program, work / "hook")[1])
            off.append(
                run_workload(python, program, work / "hook", LEAN_INSTALL_STARTUP_HOOK="0")[1]
            )
        rows.append({"program": program.name, "ok": True, "on": statistics.median(on),
                     "off": statistics.median(off)})  # fmt: skip
    timed = [r for r in rows if r["ok"]]
    total_on, total_off = sum(r["on"] for r in timed), sum(r["off"] for r in timed)
    return {"programs": rows, "on": total_on, "off": total_off,
            "ratio": total_on / total_off if total_off else None}  # fmt: skip


def render(results: list[dict[str, Any]], cost: dict[str, Any] | None) -> str:
    out = [
        "| profile | held-out | pass, no miss | pass (default mode) | full MB | lean MB | "
        "lean/full (allocated) | pip check |",
        "|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in results:
        n = len(r["workloads"])
        strict = sum(w["passed_strict"] and not w["misses"] for w in r["workloads"])
        default = sum(w["passed_default"] for w in r["workloads"])
        full, lean = r["full"], r["lean"]
        out.append(
            f"| `{r['profile']}` | {n} | {strict} ({strict / n:.0%}) | {default} | "
            f"{full['bytes'] / 1e6:,.1f} | {lean['bytes'] / 1e6:,.1f} | "
            f"{lean['bytes'] / full['bytes']:.3f} ({lean['allocated'] / full['allocated']:.3f}) "
            f"| {'passes' if r['pip_check'] else 'FAILS'} |"
        )
    out.append("")
    for r in results:
        out.append(f"`{r['install_command']}` ({r['install_seconds']} s):")
        out += [f"    {line}" for line in r["install_lines"]]
        for w in r["workloads"]:
            if w["misses"] or not w["passed_strict"] or not w["passed_default"]:
                out.append(
                    f"- {w['workload']}: strict {'passed' if w['passed_strict'] else 'failed'}, "
                    f"missed {', '.join(w['misses']) or 'nothing'}; default mode "
                    f"{'passed' if w['passed_default'] else 'FAILED'}, brought back "
                    f"{', '.join(w['restored']) or 'nothing'} ({w['restored_bytes'] / 1e6:.1f} MB)"
                )
        out.append("")
    if cost:
        out.append("| untraced program | hook on (s) | hook off (s) | on/off |")
        out.append("|---|---:|---:|---:|")
        for p in cost["programs"]:
            if p["ok"]:
                out.append(f"| {p['program']} | {p['on']:.2f} | {p['off']:.2f} | "
                           f"{p['on'] / p['off']:.3f} |")  # fmt: skip
            else:
                out.append(f"| {p['program']} | failed | | |")
        if cost["ratio"]:
            out.append(f"| all | {cost['on']:.2f} | {cost['off']:.2f} | {cost['ratio']:.3f} |")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profiles", default="torch-cpu,tabular")
    parser.add_argument("--work", type=Path, default=Path("/tmp/lean-heldout"))
    parser.add_argument("--out", type=Path, default=Path("bench/heldout.json"))
    parser.add_argument("--hook-repeat", type=int, default=3)
    what = "install REQS (space-separated) instead: torch-cuda-on-cpu=torch is what users type"
    parser.add_argument("--request", action="append", default=[], metavar="PROFILE=REQS",
                        help=what)  # fmt: skip
    args = parser.parse_args(argv)
    requests = {k: v.split() for k, _, v in (r.partition("=") for r in args.request)}
    results, cost = [], None
    for name in args.profiles.split(","):
        print(f"== {name}", flush=True)
        requirements = requests.get(name, RECIPES[name]["requirements"])
        results.append(heldout(name, args.work / name, requirements))
        if name == "torch-cpu" and args.hook_repeat:
            cost = hook_cost(Path(results[-1]["lean_python"]), args.work / name, args.hook_repeat)
    args.out.write_text(json.dumps({"profiles": results, "hook_cost": cost}, indent=2) + "\n")
    print(render(results, cost))
    return 0


if __name__ == "__main__":
    sys.exit(main())
