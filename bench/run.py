"""Benchmark lean-install against full pip and uv installs; prints Markdown, writes JSON.

    python bench/run.py [--quick] [--cases torch,tabular,transformers,trace] [--repeat N]
                        [--out FILE]

Per install case: a full env with pip and with uv (cold: empty cache; warm: the same cache,
a new venv), a trace of the workload in the pip-full env (the profile and the traced lower
bound), then lean envs built from that profile with ``--installer pip`` and ``uv``, cold and
warm. Venvs are created before the clock starts. Timings only report; nothing asserts.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import shutil
import stat
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["main"]

WORKLOADS = Path(__file__).resolve().parents[1] / "profiles" / "workloads"
TORCH_REQ = "torch==2.13.0"  # a local CPU wheel here; an unpinned torch pulls a CUDA build


@dataclass(frozen=True)
class Case:
    name: str
    requirements: tuple[str, ...]
    workload: Path
    imports: str  # the main package(s), for the import-time figure


CASES = {
    "torch": Case("torch", (TORCH_REQ,), WORKLOADS / "torch_train.py", "torch"),
    "tabular": Case(
        "tabular",
        ("numpy", "pandas", "scikit-learn"),
        WORKLOADS / "tabular_sklearn.py",
        "pandas, sklearn",
    ),  # fmt: skip
    "transformers": Case(
        "transformers",
        (TORCH_REQ, "transformers"),
        WORKLOADS / "transformers_finetune.py",
        "transformers",
    ),  # fmt: skip
}
VARIANTS = (("full", "pip"), ("full", "uv"), ("lean", "pip"), ("lean", "uv"))


# -- processes ------------------------------------------------------------------------


def base_env(**caches: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    env.update({k: str(v) for k, v in caches.items()})
    return env


Done = subprocess.CompletedProcess[str]


def run(cmd: list[str], env: dict[str, str] | None = None) -> tuple[float, Done]:
    """Run ``cmd`` to the end; (wall seconds, the finished process)."""
    start = time.perf_counter()
    done = subprocess.run(cmd, env=env or base_env(), capture_output=True, text=True, timeout=3600)
    return time.perf_counter() - start, done


def failure(cmd: list[str], done: Done) -> dict[str, Any]:
    tail = (done.stderr + done.stdout).strip().splitlines()[-15:]
    print(f"FAILED (exit {done.returncode}): {shlex.join(cmd)}", *tail, sep="\n  ", file=sys.stderr)
    return {"command": shlex.join(cmd), "exit": done.returncode, "output": "\n".join(tail)}


def output_of(cmd: list[str]) -> str:
    return subprocess.run(cmd, capture_output=True, text=True, env=base_env()).stdout.strip()


def uv_binary() -> str:
    """uv from the dev venv (or PATH); ``pip install uv`` into the dev venv if missing."""
    if not shutil.which("uv", path=base_env()["PATH"]):
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "uv"], check=True)
    return shutil.which("uv", path=base_env()["PATH"]) or "uv"


UV_OPTIONS = ("extra-index-url", "index-url", "find-links", "constraint")  # same name in uv


def uv_sources() -> list[str]:
    """pip's configured sources (``pip config list``) as uv options, plus pip's best-match."""
    args = ["--index-strategy", "unsafe-best-match"]  # pip's rule: best version over all indexes
    for line in output_of([sys.executable, "-m", "pip", "config", "list"]).splitlines():
        key, _, value = line.partition("=")
        values = value.strip("'\"").split()
        option = key.removeprefix("global.")
        if key.startswith("global.") and option in UV_OPTIONS:
            args += [a for v in values for a in (f"--{option}", v)]
    return args


# -- environments ---------------------------------------------------------------------


def new_venv(path: Path) -> Path:
    base = Path(sys.base_prefix) / "bin" / "python3"
    subprocess.run([str(base), "-m", "venv", str(path)], check=True)
    return path / "bin" / "python"


def site_packages(python: Path) -> Path:
    return next((python.parent.parent / "lib").glob("python3*/site-packages"))


def tree_size(root: Path) -> tuple[int, int]:
    """(bytes, files) of the regular files under ``root``, by ``os.lstat``."""
    size = files = 0
    for folder, _, names in os.walk(root):
        for name in names:
            st = os.lstat(os.path.join(folder, name))  # noqa: PTH118
            if stat.S_ISREG(st.st_mode):
                size, files = size + st.st_size, files + 1
    return size, files


def versions(python: Path) -> dict[str, str]:
    code = "import json, importlib.metadata as m; print(json.dumps({d.metadata['Name'].lower(): "
    code += "d.version for d in m.distributions()}))"
    return dict(json.loads(output_of([str(python), "-c", code]) or "{}"))


def workload_ok(python: Path, workload: Path) -> bool:
    _, done = run([str(python), str(workload)])
    return done.returncode == 0 and any(line.startswith("OK") for line in done.stdout.splitlines())


def import_seconds(python: Path, imports: str, n: int = 3) -> float:
    """Median wall time of ``python -c "import ..."`` after one untimed warm-up run."""
    cmd = [str(python), "-c", f"import {imports}"]
    run(cmd)
    return statistics.median(run(cmd)[0] for _ in range(n))


def measure(python: Path, case: Case, phase: str) -> dict[str, Any]:
    """Workload in every env; size, import time and versions in the cold one (same files)."""
    ok = {"workload_ok": workload_ok(python, case.workload)}
    if phase == "warm":
        return ok
    size, files = tree_size(site_packages(python))
    imports = import_seconds(python, case.imports)
    return ok | {"bytes": size, "files": files, "import_s": imports, "versions": versions(python)}


# -- install variants -----------------------------------------------------------------


def install_command(
    kind: str, installer: str, python: Path, case: Case, profile: Path | None
) -> list[str]:
    reqs = list(case.requirements)
    if kind == "lean":
        assert profile is not None
        return [sys.executable, "-m", "lean_install", "install", "--python", str(python),
                "--profile", str(profile), "--prune", "-q", "--installer", installer,
                *reqs]  # fmt: skip
    if installer == "pip":
        return [str(python), "-m", "pip", "install", "-q", *reqs]
    return [uv_binary(), "pip", "install", "--python", str(python), "--compile-bytecode",
            "-q", *uv_sources(), *reqs]  # fmt: skip


def install_pair(
    kind: str, installer: str, case: Case, profile: Path | None, work: Path
) -> dict[str, Any]:
    """Cold into one new venv with fresh caches, then warm into another with the same caches."""
    tag = f"{case.name}-{kind}-{installer}"
    caches = {k: Path(tempfile.mkdtemp(prefix=f"{tag}-{k}-", dir=work))
              for k in ("PIP_CACHE_DIR", "UV_CACHE_DIR", "LEAN_INSTALL_CACHE_DIR")}  # fmt: skip
    out: dict[str, Any] = {"pythons": {}, "seconds": {}, "errors": []}
    for phase in ("cold", "warm"):
        python = new_venv(Path(tempfile.mkdtemp(prefix=f"{tag}-{phase}-", dir=work)) / "venv")
        cmd = install_command(kind, installer, python, case, profile)
        seconds, done = run(cmd, base_env(**caches))
        print(f"  {tag} {phase}: {seconds:.1f} s (exit {done.returncode})", file=sys.stderr)
        out["seconds"][phase] = seconds
        out["pythons"][phase] = python
        if done.returncode != 0:
            out["errors"].append(failure(cmd, done))
    return out


def verify_seconds(python: Path, n: int = 3) -> float | None:
    """Median wall time of ``lean-install verify`` (what every install runs at its end)."""
    cmd = [sys.executable, "-m", "lean_install", "verify", "--python", str(python)]
    times = []
    for _ in range(n):
        seconds, done = run(cmd)
        if done.returncode != 0:
            failure(cmd, done)
            return None
        times.append(seconds)
    return statistics.median(times)


def trace_profile(python: Path, case: Case, work: Path) -> tuple[Path, dict[str, Any]]:
    """Trace the workload in ``python``'s env; the profile and the report's lower bound."""
    profile = work / f"{case.name}.profile.toml"
    lean = [sys.executable, "-m", "lean_install"]
    cmd = [*lean, "trace", "-o", str(profile), "--", str(python), str(case.workload)]
    _, done = run(cmd)
    if done.returncode != 0:
        return profile, {"error": failure(cmd, done)}
    cmd = [*lean, "report", "--json", "--python", str(python), "--profile", str(profile)]
    _, done = run(cmd)
    if done.returncode != 0:
        return profile, {"error": failure(cmd, done)}
    totals = json.loads(done.stdout)["totals"]
    return profile, {"bytes": totals["used-bytes"], "files": totals["used-files"],
                     "report_bytes": totals["bytes"], "report_files": totals["files"]}  # fmt: skip


def run_install_case(case: Case, repeat: int, work: Path, keep: dict[str, Path]) -> dict[str, Any]:
    """Every variant ``repeat`` times (median seconds); envs measured on the first round."""
    seconds: dict[str, dict[str, list[float]]] = {}
    envs: dict[str, Any] = {}
    profile: Path | None = None
    lower: dict[str, Any] = {}
    for round_ in range(repeat):
        for kind, installer in VARIANTS:
            if kind == "lean" and (profile is None or "error" in lower):
                continue
            key = f"{kind}-{installer}"
            pair = install_pair(kind, installer, case, profile, work)
            for phase, s in pair["seconds"].items():
                seconds.setdefault(key, {}).setdefault(phase, []).append(s)
            if round_ == 0:
                envs[key] = {"errors": pair["errors"]}
                envs[key] |= {p: measure(py, case, p) for p, py in pair["pythons"].items()}
                if kind == "lean":
                    envs[key]["verify_s"] = verify_seconds(pair["pythons"]["warm"])
            if key == "full-pip" and profile is None:
                profile, lower = trace_profile(pair["pythons"]["cold"], case, work)
                keep[case.name] = pair["pythons"]["cold"]
            for python in pair["pythons"].values():  # free the disk (torch: 0.9 GB an env)
                if python not in keep.values():
                    shutil.rmtree(python.parent.parent.parent, ignore_errors=True)
    for key, phases in seconds.items():
        median = {p: statistics.median(v) for p, v in phases.items()}
        envs[key] |= {"seconds": median, "runs": phases}
    return {"requirements": list(case.requirements), "lower_bound": lower, "envs": envs}


# -- trace overhead -------------------------------------------------------------------


def torch_python(work: Path, keep: dict[str, Path]) -> Path:
    """The torch case's pip-full env if this run built it, else a new one (untimed)."""
    if "torch" in keep:
        return keep["torch"]
    python = new_venv(work / "trace-venv")
    cmd = [str(python), "-m", "pip", "install", "-q", TORCH_REQ]
    _, done = run(cmd)
    if done.returncode != 0:
        raise SystemExit(failure(cmd, done)["output"])
    return python


def run_trace_overhead(repeat: int, work: Path, keep: dict[str, Path]) -> dict[str, Any]:
    """Wall time of the workload traced / untraced, median of ``repeat`` runs each."""
    python = torch_python(work, keep)
    workload = str(CASES["torch"].workload)
    plain = [str(python), workload]
    traced = [sys.executable, "-m", "lean_install", "trace", "-o", str(work / "overhead.toml"),
              "--", *plain]  # fmt: skip
    run(plain)  # warm the page cache
    times: dict[str, list[float]] = {"untraced": [], "traced": []}
    for _ in range(repeat):
        for name, cmd in (("untraced", plain), ("traced", traced)):
            seconds, done = run(cmd)
            if done.returncode != 0:
                return {"error": failure(cmd, done)}
            times[name].append(seconds)
    med = {k: statistics.median(v) for k, v in times.items()}
    out = {"runs": repeat, "seconds": times, "median": med}
    return out | {"ratio": med["traced"] / med["untraced"]}


# -- machine and output ---------------------------------------------------------------


def machine() -> dict[str, Any]:
    cpuinfo = Path("/proc/cpuinfo").read_text()
    models = [ln.split(":", 1)[1].strip() for ln in cpuinfo.splitlines() if "model name" in ln]
    meminfo = Path("/proc/meminfo").read_text().split()
    base = str(Path(sys.base_prefix) / "bin" / "python3")
    return {
        "cpu": models[0] if models else "?",
        "cores": os.cpu_count(),
        "ram_gib": round(int(meminfo[meminfo.index("MemTotal:") + 1]) / 2**20, 1),
        "python": output_of([base, "--version"]),
        "pip": output_of([base, "-m", "pip", "--version"]).split(" from ")[0],
        "uv": output_of([uv_binary(), "--version"]),
        "os": platform.platform(),
        # the checkout this file is in, wherever the bench is run from
        "lean_install": output_of(
            ["git", "-C", str(WORKLOADS.parents[1]), "describe", "--always", "--dirty"]
        ),
        "load": [round(os.getloadavg()[0], 2)],  # 1-minute load average at start (and end)
    }


def ratio(a: float | None, b: float | None) -> str:
    return f"{a / b:.2f}" if a is not None and b else "–"


HEADERS = ["env", "MB", "files", "/full", "/lower bound", "cold s", "cold ×pip", "warm s",
           "warm ×pip", "workload (cold/warm)", "import s", "import ×full"]  # fmt: skip


def env_row(label: str, e: dict[str, Any], full: dict[str, Any], low: int | None) -> list[str]:
    cold, sec, pip = e["cold"], e.get("seconds", {}), full.get("seconds", {})
    ok = "/".join("OK" if e[p]["workload_ok"] else "FAIL" for p in ("cold", "warm"))
    size, full_size, imp = cold["bytes"], full["cold"]["bytes"], cold["import_s"]
    return [label, f"{size / 1e6:,.1f}", f"{cold['files']:,}", ratio(size, full_size),
            ratio(size, low), f"{sec.get('cold', 0):.1f}", ratio(sec.get("cold"), pip.get("cold")),
            f"{sec.get('warm', 0):.1f}", ratio(sec.get("warm"), pip.get("warm")), ok,
            f"{imp:.2f}", ratio(imp, full["cold"]["import_s"])]  # fmt: skip


def case_table(name: str, result: dict[str, Any]) -> list[str]:
    envs, lower = result["envs"], result["lower_bound"]
    full, low = envs["full-pip"], lower.get("bytes")
    rows = [env_row(k.replace("-", " (") + ")", e, full, low) for k, e in envs.items()]
    if low is not None:
        size = [f"{low / 1e6:,.1f}", f"{lower['files']:,}", ratio(low, full["cold"]["bytes"])]
        rows.insert(2, ["traced lower bound", *size, "1.00", *["–"] * 7])
    lines = [f"### {name}: `{' '.join(result['requirements'])}`", "",
             "| " + " | ".join(HEADERS) + " |", "|" + "---|" * len(HEADERS)]  # fmt: skip
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return [*lines, "", *case_notes(envs, lower), ""]


def case_notes(envs: dict[str, Any], lower: dict[str, Any]) -> list[str]:
    got = {k: e["cold"]["versions"] for k, e in envs.items()}
    pip_v, uv_v = got["full-pip"], got.get("full-uv", {})
    diff = {k: (pip_v.get(k), uv_v.get(k)) for k in {*pip_v, *uv_v} if pip_v.get(k) != uv_v.get(k)}
    notes = [f"- versions, full pip vs full uv: {diff or 'identical'}"]
    for dist in ("torch", "scikit-learn"):
        if dist in pip_v:
            notes.append(f"- {dist}: " + ", ".join(f"{k} {v.get(dist)}" for k, v in got.items()))
    for key, e in envs.items():
        verify, warm = e.get("verify_s"), e.get("seconds", {}).get("warm")
        if verify is not None and warm:
            notes.append(f"- {key}: `lean-install verify` {verify:.1f} s (median of 3), "
                         f"{verify / warm:.2f} of its warm install ({warm:.1f} s, which "
                         "includes it)")  # fmt: skip
    if "error" in lower:
        notes.append(f"- trace/report FAILED: `{lower['error']['command']}`")
    for key, e in envs.items():
        for err in e.get("errors", []):
            notes.append(f"- {key} FAILED: `{err['command']}`\n\n```\n{err['output']}\n```")
    return notes


def render(result: dict[str, Any]) -> str:
    m = result["machine"]
    lines = [f"Command: `{result['command']}`", "",
             f"Machine: {m['cpu']}, {m['cores']} cores, {m['ram_gib']} GiB RAM; {m['python']}; "
             f"{m['pip']} (in the venvs); {m['uv']}; {m['os']}; lean-install at "
             f"{m.get('lean_install')}; 1-minute load average at "
             f"start/end: {'/'.join(map(str, m['load']))} (other work on the machine skews times)",
             ""]  # fmt: skip
    for name, case in result["cases"].items():
        lines += case_table(name, case)
    t = result.get("trace_overhead")
    if t and "ratio" in t:
        med = t["median"]
        lines.append(f"### trace overhead (torch_train.py, default backend): traced/untraced = "
                     f"**{t['ratio']:.2f}** ({med['traced']:.1f} s / {med['untraced']:.1f} s, "
                     f"median of {t['runs']})")  # fmt: skip
    elif t:
        lines.append(f"### trace overhead FAILED: `{t['error']['command']}`")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tabular + trace, 1 repeat")
    parser.add_argument(
        "--cases", default=None, help="comma list of torch,tabular,transformers,trace"
    )
    parser.add_argument("--repeat", type=int, default=None)
    parser.add_argument("--out", type=Path, default=Path("bench/results/latest.json"))
    args = parser.parse_args(argv)
    every = "torch,tabular,transformers,trace"
    cases = (args.cases or ("tabular,trace" if args.quick else every)).split(",")
    repeat = args.repeat or (1 if args.quick else 3)
    command = shlex.join(["python", "bench/run.py", *(sys.argv[1:] if argv is None else argv)])
    result: dict[str, Any] = {"command": command, "machine": machine(), "repeat": repeat}
    result["cases"] = {}
    keep: dict[str, Path] = {}
    work = Path(tempfile.mkdtemp(prefix="lean-bench-"))
    try:
        for name in (c for c in cases if c in CASES):
            print(f"case {name}", file=sys.stderr)
            result["cases"][name] = run_install_case(CASES[name], repeat, work, keep)
        if "trace" in cases:
            print("case trace", file=sys.stderr)
            result["trace_overhead"] = run_trace_overhead(repeat, work, keep)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    result["machine"]["load"].append(round(os.getloadavg()[0], 2))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2, default=str) + "\n")
    print(render(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
