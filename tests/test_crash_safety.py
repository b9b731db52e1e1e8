"""Crash safety: lean-install (and its pip) SIGKILLed at many points, then run again.

tests/faults.py counts the mutating file operations a run makes in the target venv and
the lean-install cache, and kills the whole process group at the N-th (before it
happens). A clean run is counted first (T operations, logged); then, for about ten
points from 1 to T-1 -- the first one, the cache phase, the state file, the start, the
middle and the end of pip's phase, the last one -- a fresh copy of the starting
environment is killed there, looked at, and the same command is run again.

What must hold after every kill:

- install: the environment is as before, or as after a clean install, or the next
  (read-only) ``lean-install report`` says it found an interrupted install;
- install and restore: running the same command again succeeds, and then the
  environment equals what a clean run gives (every file of site-packages by sha256,
  bytecode by name, ``pip freeze``, the state file), ``pip check`` is clean, and
  nothing temporary is left (``~`` stashes, ``*.tmp``, ``.part``, half-written bytecode).

The kills are made once per module (fixtures ``install_runs`` and ``restore_runs``);
the tests check one property each over all of them, and name the failing points.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import build_wheel, create_venv, pip_install, site_packages
from faults import (
    HOOK_MODULE,
    Operation,
    count_operations,
    install_hook,
    read_log,
    run_with_fault,
)

from lean_install.cli import main
from lean_install.profile import DistributionUsage, Profile

pytestmark = pytest.mark.slow

LABEL = "workload"
PROBED = ("app", "app.core", "app.old", "app.unused", "app.sub.deep", "usedlib", "unuseddep")
PROBE = f"""\
import importlib, json
out = {{}}
for name in {PROBED!r}:
    try:
        module = importlib.import_module(name)
    except Exception as exc:
        out[name] = type(exc).__name__
    else:
        out[name] = getattr(module, "VERSION", "ok")
try:
    import app.core
    out["compute"] = app.core.compute()
except Exception as exc:
    out["compute"] = type(exc).__name__
print(json.dumps(out, sort_keys=True))
"""
"""What each module does on import, in the target (without writing bytecode)."""

LEFTOVER = re.compile(r"^~|\.tmp$|^\.tmp-|\.part$|\.part\.|\.pyc\.\d+$")
"""Names of temporary and stash files: pip's ``~`` stashes and ``RECORDxxxx.tmp``, the
state file's ``.state.json.tmp``, the cache's ``.tmp-*`` and ``.*.part``, bytecode being
written (``x.cpython-311.pyc.<id>``)."""


# -- the world -------------------------------------------------------------------------


@dataclass(frozen=True)
class World:
    root: Path
    wheels: Path
    profile: Path

    def install_argv(self, python: Path) -> list[str]:
        return ["install", "--python", str(python), "--profile", str(self.profile),
                "--installer", "pip", "-q", "app",
                "--no-index", "--find-links", str(self.wheels)]  # fmt: skip

    @staticmethod
    def restore_argv(python: Path) -> list[str]:
        return ["restore", "--python", str(python), "--all", "--installer", "pip", "-q"]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    """app 0.9 (installed first), and app 1.0 -> stripped (app.unused and app.sub become
    stubs), usedlib -> kept, unuseddep -> a stub distribution."""
    root = tmp_path_factory.mktemp("world")
    wheels = root / "wheels"
    build_wheel(wheels, "app", "0.9", {"app/__init__.py": "VERSION = '0.9'\n",
                                       "app/old.py": "X = 1\n"})  # fmt: skip
    build_wheel(wheels, "app", "1.0", {
        "app/__init__.py": "VERSION = '1.0'\nfrom app import core\n",
        "app/core.py": "import usedlib\n\ndef compute():\n    return usedlib.VALUE * 2\n",
        "app/unused.py": "X = 1\n",
        "app/sub/__init__.py": "",
        "app/sub/deep.py": "Y = 2\n",
    }, requires=("usedlib", "unuseddep==1.0"))  # fmt: skip
    build_wheel(wheels, "usedlib", "1.0", {"usedlib/__init__.py": "VALUE = 21\n"})
    build_wheel(wheels, "unuseddep", "1.0", {"unuseddep/__init__.py": "X = 1\n"})
    profile = root / f"{LABEL}.toml"
    Profile(distributions=(
        DistributionUsage(name="app", version="1.0", files=("app/__init__.py", "app/core.py")),  # type: ignore[arg-type]
        DistributionUsage(name="usedlib", version="1.0", files=("usedlib/__init__.py",)),  # type: ignore[arg-type]
    )).dump(profile)  # fmt: skip
    return World(root=root, wheels=wheels, profile=profile)


# -- looking at an environment ---------------------------------------------------------


def _quiet_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PYTHONDONTWRITEBYTECODE"] = "1"  # looking must not add bytecode
    env["LEAN_INSTALL_ON_MISS"] = "error"  # nor bring back what it imports
    env["LEAN_INSTALL_LOG_MISSES"] = "0"  # nor log that it did
    return env


def _run_together(*commands: Sequence[str | Path]) -> list[subprocess.CompletedProcess[str]]:
    """Run read-only commands side by side; their results in order."""
    running = [
        subprocess.Popen(
            [str(a) for a in command],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=_quiet_env(),
        )
        for command in commands
    ]
    done = []
    for process in running:
        out, err = process.communicate()
        done.append(subprocess.CompletedProcess(process.args, process.returncode, out, err))
    return done


def _digest(path: Path) -> str:
    data = path.read_bytes()
    if path.name == "RECORD":  # bytecode hashes depend on install-time mtimes, scripts'
        rows = data.decode().splitlines()  # on the venv's path: keep their paths only
        rows = [r.split(",")[0] if ".pyc," in r or r.startswith("../") else r for r in rows]
        data = "\n".join(sorted(rows)).encode()
    return hashlib.sha256(data).hexdigest()


def tree(python: Path) -> dict[str, str]:
    """site-packages: files by sha256, directories as ``dir``, bytecode by name only.

    (The hook's own files are left out, and ``__pycache__`` directories: the hook's
    bytecode makes one at the top.)
    """
    sp = site_packages(python)
    found = {}
    for path in sorted(sp.rglob("*")):
        rel = path.relative_to(sp)
        if any(part.startswith(HOOK_MODULE) for part in rel.parts):
            continue
        if path.is_symlink() or not path.is_dir():
            bytecode = "__pycache__" in rel.parts
            found[rel.as_posix()] = "bytecode" if bytecode else _digest(path)
        elif path.name != "__pycache__":
            found[rel.as_posix() + "/"] = "dir"
    return found


def leftovers(root: Path) -> list[str]:
    """Temporary and stash files and directories anywhere under ``root``."""
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if LEFTOVER.search(p.name))


@dataclass(frozen=True)
class State:
    freeze: str
    check: str
    """``pip check``'s output, empty when clean."""
    imports: dict[str, object]
    tree: dict[str, str]
    state_file: object
    leftovers: list[str]


def observe(python: Path, cache: Path) -> State:
    """The environment as pip, imports and the disk see it (paths of this copy and its
    cache written as ``<prefix>`` and ``<cache>``)."""
    prefix = python.parents[1]
    freeze, check, probe = _run_together(
        [python, "-m", "pip", "freeze", "--all"],
        [python, "-m", "pip", "check", "--disable-pip-version-check"],
        [python, "-c", PROBE],
    )
    try:
        text = (prefix / "lean-install" / "state.json").read_text()
        text = text.replace(str(cache), "<cache>").replace(str(prefix), "<prefix>")
        state_file: object = json.loads(text)
    except (OSError, ValueError) as exc:
        state_file = type(exc).__name__
    return State(
        freeze=freeze.stdout,
        check="" if check.returncode == 0 else (check.stdout + check.stderr).strip(),
        imports=json.loads(probe.stdout) if probe.returncode == 0 else {"probe": probe.stderr},
        tree=tree(python),
        state_file=state_file,
        leftovers=leftovers(prefix),
    )


def differences(state: State, reference: State) -> list[str]:
    """What differs, in a few words per field."""
    found = []
    for field in ("freeze", "check", "imports", "state_file", "leftovers"):
        ours, theirs = getattr(state, field), getattr(reference, field)
        if ours != theirs:
            found.append(f"{field}: {_clip(ours)} (clean: {_clip(theirs)})")
    if state.tree != reference.tree:
        extra = sorted(set(state.tree) - set(reference.tree))
        missing = sorted(set(reference.tree) - set(state.tree))
        changed = sorted(k for k in set(state.tree) & set(reference.tree)
                         if state.tree[k] != reference.tree[k])  # fmt: skip
        found.append(f"tree: extra {_few(extra)}, missing {_few(missing)}, changed {_few(changed)}")
    return found


def _clip(value: object, limit: int = 300) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _few(paths: list[str], limit: int = 6) -> str:
    more = f" and {len(paths) - limit} more" if len(paths) > limit else ""
    return repr(paths[:limit]) + more


# -- venvs -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Template:
    """A venv whose site-packages is copied into new venvs (pip, setuptools, and so on).

    ``python -m venv`` takes seconds (ensurepip); ``--without-pip`` and a copy of the
    template's site-packages take a fraction of that. Only site-packages is copied: the
    scripts in bin/ hold the template's absolute path, and the copy has none of them.
    """

    prefix: Path
    site: Path
    """site-packages, relative to the prefix."""

    @classmethod
    def of(cls, python: Path) -> Template:
        prefix = python.parents[1]
        return cls(prefix=prefix, site=site_packages(python).relative_to(prefix))

    def copy(self, directory: Path) -> Path:
        """A new venv at ``directory/venv`` like the template, with the fault hook; its python."""
        prefix = directory / "venv"
        subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(prefix)], check=True)
        shutil.copytree(self.prefix / self.site, prefix / self.site, symlinks=True,
                        dirs_exist_ok=True)  # fmt: skip
        install_hook(prefix / self.site)
        return prefix / "bin" / "python"


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Template:
    return Template.of(create_venv(tmp_path_factory.mktemp("template") / "venv"))


@pytest.fixture(scope="module")
def old_template(
    world: World, template: Template, tmp_path_factory: pytest.TempPathFactory
) -> Template:
    """The template with app 0.9 installed by pip."""
    python = template.copy(tmp_path_factory.mktemp("old-template"))
    pip_install(python, "--find-links", str(world.wheels), "app==0.9")
    return Template.of(python)


# -- running lean-install ----------------------------------------------------------------


def cli(*argv: str) -> tuple[int, str]:
    """``main(argv)`` in this process, unhooked: (exit code, stdout + stderr)."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        try:
            code = main(list(argv))
        except Exception as exc:  # a crash is a finding, not an error of the fixture
            return 99, f"{type(exc).__name__}: {exc}"
    return code, out.getvalue()


@contextlib.contextmanager
def cache_dir(path: Path) -> Iterator[None]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("LEAN_INSTALL_CACHE_DIR", str(path))
        yield


def fault_env(cache: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["LEAN_INSTALL_CACHE_DIR"] = str(cache)
    return env


@dataclass(frozen=True)
class Reference:
    """A clean, counted run: its log (T operations), and the environment before and after."""

    operations: list[Operation]
    before: State
    after: State


@dataclass(frozen=True)
class Trial:
    at: int
    operation: Operation
    """The operation the kill prevented (the last of this run's own log)."""
    returncode: int
    count: int
    prevented: bool | None
    """For a rename: whether its source is still there right after the kill."""
    after: State | None
    """The environment right after the kill (install only)."""
    report: str
    """What ``lean-install report`` said right after the kill."""
    rerun: tuple[int, str]
    final: State

    def name(self) -> str:
        op = self.operation
        return f"at {self.at} ({op.program} {op.event} {_short(op.path)})"


@dataclass(frozen=True)
class Runs:
    reference: Reference
    trials: list[Trial]


def _short(path: str) -> str:
    return re.sub(r"^.*?/(site-packages|cache|venv)/", r"\1/", path)


def kill_points(operations: Sequence[Operation]) -> list[int]:
    """About ten points in 1..T-1: the ends, the first cache and state-file renames, and
    pip's phase (its first and last operations, the quarters between, the moment it moves
    an installed distribution aside)."""
    total = len(operations)
    pip = [op.number for op in operations if op.program == "pip"]
    assert pip, "pip's operations were not counted: is the .pth hook loaded?"

    def first(test: Callable[[Operation], bool]) -> list[int]:
        return next(([op.number] for op in operations if test(op)), [])

    points = {1, total - 1, pip[0], pip[-1]}
    points.update(pip[len(pip) * q // 4] for q in (1, 2, 3))
    points.update(first(lambda op: "/cache/" in op.path and op.event == "os.rename"))
    points.update(first(lambda op: "/lean-install/" in op.path and op.event == "os.rename"))
    points.update(first(lambda op: op.program == "pip" and op.event == "os.rename"
                        and op.path.endswith(".dist-info")))  # fmt: skip
    return sorted(p for p in points if 1 <= p < total)


def _roots(python: Path, cache: Path) -> list[Path]:
    return [python.parents[1], cache]


def _counted(argv: Sequence[str], python: Path, directory: Path) -> Reference:
    cache, log = directory / "cache", directory / "log"
    before = observe(python, cache)
    count = count_operations(argv, fault_env(cache), _roots(python, cache), log=log)
    operations = read_log(log)
    assert [op.number for op in operations] == list(range(1, count + 1))
    return Reference(operations=operations, before=before, after=observe(python, cache))


def _trial(argv: Sequence[str], at: int, python: Path, directory: Path, *, look: bool) -> Trial:
    """Kill ``argv`` at ``at``; look (if asked), ask report, run it again, look."""
    cache, log = directory / "cache", directory / "log"
    code, count = run_with_fault(argv, at, fault_env(cache), _roots(python, cache), log=log)
    operation = read_log(log)[-1]
    prevented = Path(operation.path).exists() if operation.event == "os.rename" else None
    after = observe(python, cache) if look else None
    with cache_dir(cache):
        report = cli("report", "--python", str(python))[1]
        rerun = cli(*argv)
    return Trial(at=at, operation=operation, returncode=code, count=count, prevented=prevented,
                 after=after, report=report, rerun=rerun,
                 final=observe(python, cache))  # fmt: skip


def _runs(
    argv: Callable[[Path], list[str]], start: Callable[[Path], Path], base: Path, *, look: bool
) -> Runs:
    """Count a clean run from ``start``, then kill one from a new start at each point."""
    python = start(base / "clean")
    reference = _counted(argv(python), python, base / "clean")
    trials = []
    for at in kill_points(reference.operations):
        python = start(base / f"at-{at}")
        trials.append(_trial(argv(python), at, python, base / f"at-{at}", look=look))
    return Runs(reference=reference, trials=trials)


def _failures(runs: Runs, problems: Callable[[Trial], list[str]]) -> str:
    lines = []
    for trial in runs.trials:
        found = problems(trial)
        if found:
            lines.append(trial.name() + ":\n    " + "\n    ".join(found))
    return "\n".join(lines)


def _rerun_problems(trial: Trial, reference: Reference) -> list[str]:
    code, output = trial.rerun
    found = [] if code == 0 else [f"the rerun failed ({code}): {output.strip()[-600:]}"]
    return found + differences(trial.final, reference.after)


# -- install ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def install_runs(
    world: World, old_template: Template, tmp_path_factory: pytest.TempPathFactory
) -> Runs:
    """Lean installs of app 1.0 over app 0.9, killed at each point, then run again."""
    return _runs(world.install_argv, old_template.copy, tmp_path_factory.mktemp("install"),
                 look=True)  # fmt: skip


def test_the_harness_counts_every_process_and_kills_at_the_point(install_runs: Runs) -> None:
    programs = {op.program for op in install_runs.reference.operations}
    assert {"-c", "pip"} <= programs  # lean-install itself (PYTHONPATH) and pip (.pth)
    assert len(install_runs.trials) >= 8
    for trial in install_runs.trials:
        assert (trial.returncode, trial.count) == (-9, trial.at), trial.name()
        same = install_runs.reference.operations[trial.at - 1]
        assert (trial.operation.program, trial.operation.event) == (same.program, same.event)
    print(f"install: T={len(install_runs.reference.operations)}, killed at "
          f"{[t.at for t in install_runs.trials]}")  # fmt: skip
    renames = [t for t in install_runs.trials if t.operation.event == "os.rename"]
    assert len(renames) >= 2
    assert all(t.prevented for t in renames)  # killed before the operation, not after


def test_killed_install_leaves_the_old_state_the_new_one_or_says_interrupted(
    install_runs: Runs,
) -> None:
    reference = install_runs.reference

    def problems(trial: Trial) -> list[str]:
        after = trial.after
        assert after is not None
        old = (after.freeze, after.check, after.imports) == (
            reference.before.freeze, reference.before.check, reference.before.imports)  # fmt: skip
        new = not differences(after, reference.after)
        if old or new or "interrupted" in trial.report.lower():
            return []
        return ["neither the old state nor the new one, and report does not say "
                "'interrupted'; it differs from the old state in:",
                *differences(after, reference.before)]  # fmt: skip

    failures = _failures(install_runs, problems)
    assert not failures, failures


def test_rerun_of_a_killed_install_succeeds_and_equals_a_clean_install(
    install_runs: Runs,
) -> None:
    after = install_runs.reference.after
    assert after.imports["app"] == "1.0"
    assert after.imports["app.unused"] == "LeanInstallRemovedError"
    assert after.check == "" and after.leftovers == []
    failures = _failures(install_runs, lambda t: _rerun_problems(t, install_runs.reference))
    assert not failures, failures


def test_report_after_a_kill_inside_pip_says_interrupted(install_runs: Runs) -> None:
    pip = [op.number for op in install_runs.reference.operations if op.program == "pip"]
    inside = [t.at for t in install_runs.trials if pip[0] < t.at <= pip[-1]]
    assert len(inside) >= 3

    def problems(trial: Trial) -> list[str]:
        if trial.at not in inside or "interrupted" in trial.report.lower():
            return []
        return ["lean-install report says nothing of an interrupted install"]

    failures = _failures(install_runs, problems)
    assert not failures, failures


# -- restore ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def restore_runs(
    world: World, template: Template, tmp_path_factory: pytest.TempPathFactory
) -> Runs:
    """``restore --all`` after a clean lean install, killed at each point, then run again."""

    def start(directory: Path) -> Path:
        python = template.copy(directory)
        with cache_dir(directory / "cache"):
            code, output = cli(*world.install_argv(python))
        assert code == 0, output
        return python

    return _runs(World.restore_argv, start, tmp_path_factory.mktemp("restore"), look=False)


def test_clean_restore_puts_the_originals_back(restore_runs: Runs) -> None:
    after = restore_runs.reference.after
    assert {line for line in after.freeze.splitlines() if line.startswith(("app", "u"))} == {
        "app==1.0", "usedlib==1.0", "unuseddep==1.0"}  # fmt: skip
    assert after.imports["app.unused"] == after.imports["app.sub.deep"] == "ok"
    assert after.imports["compute"] == 42
    assert after.check == "" and after.leftovers == []


def test_rerun_of_a_killed_restore_succeeds_and_equals_a_clean_restore(
    restore_runs: Runs,
) -> None:
    print(f"restore: T={len(restore_runs.reference.operations)}, killed at "
          f"{[t.at for t in restore_runs.trials]}")  # fmt: skip
    failures = _failures(restore_runs, lambda t: _rerun_problems(t, restore_runs.reference))
    assert not failures, failures


# -- sync --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sync_runs(
    world: World, old_template: Template, tmp_path_factory: pytest.TempPathFactory
) -> Runs:
    """``sync`` of a lock of the lean install over app 0.9 (and the seeded setuptools,
    which the lock does not hold: sync uninstalls it), killed at each point, run again."""
    directory = tmp_path_factory.mktemp("lock")
    lock = directory / "pylock.toml"
    with cache_dir(directory / "cache"):
        code, output = cli("lock", "-o", str(lock), "--profile", str(world.profile), "-q",
                           "app", "--no-index", "--find-links", str(world.wheels))  # fmt: skip
    assert code == 0, output

    def argv(python: Path) -> list[str]:
        return ["sync", str(lock), "--python", str(python), "--installer", "pip", "-q",
                "--no-index", "--find-links", str(world.wheels)]  # fmt: skip

    return _runs(argv, old_template.copy, tmp_path_factory.mktemp("sync"), look=False)


def test_rerun_of_a_killed_sync_succeeds_and_equals_a_clean_sync(sync_runs: Runs) -> None:
    after = sync_runs.reference.after
    assert "app==1.0+lean." in after.freeze and "setuptools" not in after.freeze
    assert len(sync_runs.trials) >= 8
    assert all(t.returncode == -9 for t in sync_runs.trials)
    print(f"sync: T={len(sync_runs.reference.operations)}, killed at "
          f"{[t.at for t in sync_runs.trials]}")  # fmt: skip
    failures = _failures(sync_runs, lambda t: _rerun_problems(t, sync_runs.reference))
    assert not failures, failures


# -- Ctrl-C ------------------------------------------------------------------------------


def test_ctrl_c_during_an_install_says_what_to_do_and_the_next_command_completes_it(
    world: World, old_template: Template, tmp_path: Path
) -> None:
    """Ctrl-C while pip installs: exit 130, a message that says the environment is
    half-installed and which command completes it; that command completes it."""
    first = old_template.copy(tmp_path / "clean")
    clean = _counted(world.install_argv(first), first, tmp_path / "clean")
    # a file pip writes half-way through, named by its path (the count of operations
    # before it can differ from run to run: processes and bytecode)
    written = [o.path for o in clean.operations
               if (o.program, o.event) == ("pip", "open") and o.path.endswith(".py")]  # fmt: skip
    python = old_template.copy(tmp_path / "interrupted")
    point = python.parents[1] / Path(written[len(written) // 2]).relative_to(first.parents[1])
    cache, output = tmp_path / "cache", tmp_path / "output.txt"
    code, _ = run_with_fault(world.install_argv(python), None, fault_env(cache),
                             _roots(python, cache), signal_name="INT", output=output,
                             at_path=point)  # fmt: skip
    said = output.read_text()
    assert code == 130, said
    assert "interrupted while changing" in said and "half-installed" in said, said
    assert f"lean-install verify --python {python}" in said, said
    with cache_dir(cache):
        code, out = cli("verify", "--python", str(python))
    assert code == 0, out
    assert "completed the interrupted" in out and "verified" in out, out
    final = observe(python, cache)
    assert final.freeze == clean.after.freeze and final.check == "" and final.leftovers == []
    assert final.imports == clean.after.imports
