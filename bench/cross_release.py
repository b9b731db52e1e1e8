"""A profile traced on one release applied to the next; prints Markdown, writes JSON.

    python bench/cross_release.py [--work DIR] [--out FILE]

The tabular stack at two consecutive real releases from the index (``OLD``, ``NEW``).
The workload is traced in a full venv of each; then ``NEW`` is installed lean twice, once
with the profile traced on ``OLD`` (lean-install applies it by the listings it recorded:
rule ``listing``) and once with the fresh trace on ``NEW`` (rule ``exact``). The figure is
the bytes the old profile leaves out of ``NEW``'s site-packages over the bytes the fresh
trace leaves out; the workload runs in the cross-release env in on-miss mode ``error``
(does it pass without a single miss) and then in the default mode. Nothing asserts.
"""

from __future__ import annotations

import argparse
import json
import shlex
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from heldout import run_workload, sizes  # noqa: E402
from run import base_env, new_venv, site_packages  # noqa: E402

from lean_install.runtime.records import read_misses  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
WORKLOAD = REPO / "profiles" / "workloads" / "tabular_sklearn.py"
OLD = ("numpy==2.3.5", "pandas==2.3.3", "scipy==1.16.3", "scikit-learn==1.8.0")
NEW = ("numpy==2.4.6", "pandas==3.0.6", "scipy==1.17.1", "scikit-learn==1.9.1")
LEAN = [sys.executable, "-m", "lean_install"]


def call(cmd: list[str]) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(cmd, capture_output=True, text=True, env=base_env())
    if done.returncode != 0:
        sys.exit(f"failed (exit {done.returncode}): {shlex.join(cmd)}\n{done.stderr[-3000:]}")
    return done


def traced(work: Path, name: str, requirements: tuple[str, ...]) -> tuple[Path, Path]:
    """A full venv of ``requirements`` and the profile of the workload traced in it."""
    python = new_venv(work / name)
    call([str(python), "-m", "pip", "install", "-q", *requirements])
    profile = work / f"{name}.toml"
    call([*LEAN, "trace", "-o", str(profile), "--", str(python), str(WORKLOAD)])
    return python, profile


def lean(work: Path, name: str, profile: Path) -> tuple[Path, dict[str, str]]:
    """``NEW`` installed lean with ``profile``; the rule the plan applied to each wheel."""
    python = new_venv(work / name)
    base = [*LEAN, "install", "--python", str(python), "--profile", str(profile), "-q"]
    plan = json.loads(call([*base, "--dry-run", "--json", *NEW]).stdout)["plan"]
    call([*base, *NEW])
    rules = {d["name"]: f"{d['decision']}/{d['rule']}" for d in plan["distributions"]}
    return python, rules


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=None, help="keep the venvs here")
    parser.add_argument("--out", type=Path, default=Path("bench/results/cross-release.json"))
    args = parser.parse_args(argv)
    work = args.work or Path(tempfile.mkdtemp(prefix="lean-cross-"))
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    _, old_profile = traced(work, "old-full", OLD)
    new_full, new_profile = traced(work, "new-full", NEW)
    cross, cross_rules = lean(work, "new-lean-old-profile", old_profile)
    fresh, fresh_rules = lean(work, "new-lean-new-profile", new_profile)
    full = sizes(site_packages(new_full))
    got = {"cross": sizes(site_packages(cross)), "fresh": sizes(site_packages(fresh))}
    strict, _ = run_workload(cross, WORKLOAD, work / "run", LEAN_INSTALL_ON_MISS="error")
    missed = sorted({m.module for m in read_misses(cross.parent.parent)})
    default, _ = run_workload(cross, WORKLOAD, work / "run")
    left = {k: full["bytes"] - v["bytes"] for k, v in got.items()}
    result = {"old": OLD, "new": NEW, "full": full, **got, "left_out": left,
              "ratio": left["cross"] / left["fresh"], "rules": {"cross": cross_rules,
              "fresh": fresh_rules}, "passed_strict": strict, "misses": missed,
              "passed_default": default}  # fmt: skip
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(render(result))
    if args.work is None:
        shutil.rmtree(work, ignore_errors=True)
    return 0


def render(r: dict[str, Any]) -> str:
    mb = lambda n: f"{n / 1e6:,.1f}"  # noqa: E731
    lines = [
        f"Old: `{' '.join(r['old'])}`; new: `{' '.join(r['new'])}`; workload "
        f"`{WORKLOAD.relative_to(REPO)}`.",
        "",
        "| new release installed | site-packages MB | left out MB | rules |",
        "|---|---:|---:|---|",
        f"| full (pip) | {mb(r['full']['bytes'])} | – | – |",
    ]
    for key, label in (("fresh", "lean, fresh trace on new"), ("cross", "lean, profile of old")):
        rules = ", ".join(f"{n} {v}" for n, v in sorted(r["rules"][key].items()))
        lines.append(f"| {label} | {mb(r[key]['bytes'])} | {mb(r['left_out'][key])} | {rules} |")
    lines += [
        "",
        f"Left out with the old profile / with a fresh trace: **{r['ratio']:.3f}**. Workload in "
        f"the cross-release env: mode error {'passed' if r['passed_strict'] else 'FAILED'} "
        f"(misses: {', '.join(r['misses']) or 'none'}), default mode "
        f"{'passed' if r['passed_default'] else 'FAILED'}.",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
