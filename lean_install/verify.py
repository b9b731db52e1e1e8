"""Verification: nothing is called done until it works.

In fresh processes of the target (two side by side, the modules shared by the size of
their distributions), every top-level module the profile saw imported must import, and
every shared library the trace saw mapped must load. The process runs with
removed code kept removed (``LEAN_INSTALL_ON_MISS=error``, nothing logged as a miss), so
a miss is a failure here, not a silent restore. With no profile, the top-level modules of
the installed distributions are imported instead.

``attribute`` says which lean distributions a failure points at, so ``install`` can put
their originals back and verify again.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from packaging.utils import NormalizedName

from lean_install.environment import Environment
from lean_install.listing import Contents, WheelListing, top_level_modules
from lean_install.plan import DistributionPlan, Plan
from lean_install.profile import Profile
from lean_install.runtime import dynlib, layout
from lean_install.runtime.records import Checks
from lean_install.target import TargetPip

__all__ = ["Check", "Failure", "Verification", "planned_checks", "to_check", "verify", "attribute"]

VERIFY_ENVIRONMENT = {"LEAN_INSTALL_ON_MISS": "error", "LEAN_INSTALL_LOG_MISSES": "0"}
RESTORING = {"LEAN_INSTALL_ON_MISS": "restore"}
"""Repair: removed code a check reaches comes back, and the misses log says what it was."""
_SONAME = re.compile(r"([\w.+-]+\.so(?:\.[\d.]+)?): cannot open shared object file")
_SKIPPED = frozenset({"__pycache__", "_distutils_hack"})
"""Not imported: setuptools' ``.pth`` hook module runs at every start anyway."""


@dataclass(frozen=True)
class Check:
    """What verification does: modules to import, libraries (absolute paths) to load."""

    modules: tuple[str, ...] = ()
    libraries: tuple[str, ...] = ()
    weights: tuple[tuple[str, int], ...] = ()
    """Each module's expected cost (the files its distribution has): how ``split`` shares
    the modules between processes."""

    def split(self, parts: int) -> list[Check]:
        """At most ``parts`` checks that together do this one, each to run in its own fresh
        process beside the others: the modules by weight, heaviest first, each to the
        lightest part; the libraries with the heaviest part (the import that maps most of
        them: they are loaded there only if it did not)."""
        weight = dict(self.weights)
        order = sorted(self.modules, key=lambda m: (-weight.get(m, 0), m))
        groups: list[tuple[int, list[str]]] = [(0, []) for _ in range(max(1, parts))]
        for module in order:
            index = min(range(len(groups)), key=lambda i: groups[i][0])
            load, members = groups[index]
            groups[index] = (load + weight.get(module, 0) + 1, [*members, module])
        chosen = [members for _, members in groups if members] or [[]]
        return [
            Check(tuple(sorted(members)), self.libraries if index == 0 else ())
            for index, members in enumerate(chosen)
        ]


@dataclass(frozen=True)
class Failure:
    kind: str
    """``module`` or ``library``."""
    name: str
    error: str

    def __str__(self) -> str:
        return f"{self.kind} {self.name}: {self.error}"


@dataclass(frozen=True)
class Verification:
    check: Check
    failures: tuple[Failure, ...] = ()
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.failures

    def summary(self) -> str:
        """What passed, in one line."""
        return (f"{len(self.check.modules)} modules import, {len(self.check.libraries)} "
                f"libraries load ({self.seconds:.1f} s)")  # fmt: skip

    def to_dict(self) -> dict[str, object]:
        return {
            "ok": self.ok,
            "modules": list(self.check.modules),
            "libraries": list(self.check.libraries),
            "seconds": round(self.seconds, 3),
            "failures": [vars(f) for f in self.failures],
        }

    @property
    def removed_code(self) -> bool:
        """Whether a failure is a lean-install stub (removed Python code, which the reserve
        can bring back by itself), not a loader error."""
        return any("lean-install removed" in f.error for f in self.failures)


def planned_checks(
    plan: Plan, profile: Profile | None, listings: Mapping[NormalizedName, WheelListing]
) -> dict[str, Checks]:
    """What to check of each distribution ``plan`` installs (stubs have nothing to check):
    the top-level modules the profile saw imported and the libraries it saw mapped; with
    no profile entry, the top-level modules its wheel holds; of GPU code left out
    (``gpu_code``), only the libraries. A profile made on another release is checked for
    the libraries this release still has (their names change)."""
    found = {}
    for dist in plan.installed:
        if dist.decision == "stub":
            continue
        files = [f for u in (profile.find(dist.name) if profile else []) for f in u.files]
        modules = {m.split(".", 1)[0] for f in files if (m := layout.module_name(f))}
        libraries = {
            f for f in files if dynlib.is_shared_object_name(f) and not layout.module_name(f)
        }
        if dist.name in listings:  # auditwheel names a vendored library by its hash
            contents = Contents(listings[dist.name], dist.name)
            libraries = {f for f in libraries if contents.lookup(f)}
        if not files and dist.name in listings:
            modules = set(top_level_modules(listings[dist.name].members))
        if dist.gpu_code:  # its stubs say no GPU code is here: only its libraries count
            modules = set()
        found[str(dist.name)] = Checks(
            modules=tuple(sorted(modules - _SKIPPED)), libraries=tuple(sorted(libraries))
        )
    return found


def to_check(env: Environment, checks: Mapping[str, Checks]) -> Check:
    """The checks of the distributions still installed in ``env``, as one run."""
    installed = {d.name: d for d in env.distributions()}
    chosen = {name: c for name, c in checks.items() if name in installed}
    modules = sorted({m for c in chosen.values() for m in c.modules})
    libraries = sorted({str(env.purelib / p) for c in chosen.values() for p in c.libraries})
    weights = {
        m: len(installed[NormalizedName(n)].files) for n, c in chosen.items() for m in c.modules
    }
    return Check(tuple(modules), tuple(libraries), tuple(sorted(weights.items())))


PROCESSES = 2
"""Fresh processes a verification runs at once (imports are single-threaded)."""


def verify(target: TargetPip, check: Check, *, restore: bool = False) -> Verification:
    """Run ``check`` in fresh processes of the target, side by side (one when
    ``restore``: removed code it reaches is brought back, and logged as misses, instead
    of failing)."""
    import time
    from concurrent.futures import ThreadPoolExecutor

    if not check.modules and not check.libraries:
        return Verification(check)
    start = time.perf_counter()
    parts = check.split(1 if restore else min(PROCESSES, os.cpu_count() or 1))
    with ThreadPoolExecutor(len(parts)) as pool:
        found = list(pool.map(lambda part: _run_part(target, part, restore), parts))
    failures = tuple(f for part in found for f in part)
    return Verification(check, failures, time.perf_counter() - start)


def _run_part(target: TargetPip, check: Check, restore: bool) -> tuple[Failure, ...]:
    done = target.run(
        [target.env.executable, "-c", _SCRIPT],
        input=json.dumps({"modules": check.modules, "libraries": check.libraries}),
        extra_env=RESTORING if restore else VERIFY_ENVIRONMENT,
    )
    try:
        found = json.loads(done.stdout.strip().splitlines()[-1])
        return tuple(Failure(str(f[0]), str(f[1]), str(f[2])) for f in found)
    except (ValueError, IndexError, TypeError):
        tail = (done.stderr or done.stdout).strip().splitlines()[-5:]
        return (
            Failure(
                "process", target.env.executable, f"exit {done.returncode}: " + " / ".join(tail)
            ),
        )


def attribute(
    failures: Iterable[Failure],
    plan: Plan,
    listings: Mapping[NormalizedName, WheelListing],
    env: Environment,
) -> dict[NormalizedName, str]:
    """The lean distributions of ``plan`` that ``failures`` point at, each with why.

    A missing module: the distribution that stubbed or dropped it. A library that cannot
    be opened: the distributions whose original holds a file of that name. Anything else:
    the lean distribution whose module failed to import. Nothing found: every lean one.
    """
    lean = {d.name: d for d in plan.installed if d.rebuilt}
    found: dict[NormalizedName, str] = {}
    for failure in failures:
        hits = _missing_library(failure, lean, listings) or _missing_module(failure, lean, env)
        if not hits:
            hits = dict.fromkeys(lean, f"{failure} (not attributable: every lean distribution)")
        found.update({n: w for n, w in hits.items() if n not in found})
    return found


def _missing_library(
    failure: Failure,
    lean: Mapping[NormalizedName, DistributionPlan],
    listings: Mapping[NormalizedName, WheelListing],
) -> dict[NormalizedName, str]:
    match = _SONAME.search(failure.error)
    if match is None:
        return {}
    soname = match.group(1)
    return {
        n: f"{failure}: it holds {soname}"
        for n in lean
        if n in listings and any(m.rsplit("/", 1)[-1] == soname for m in listings[n].members)
    }


def _missing_module(
    failure: Failure, lean: Mapping[NormalizedName, DistributionPlan], env: Environment
) -> dict[NormalizedName, str]:
    module = failure.name if failure.kind == "module" else ""
    named = re.search(r"module '([\w.]+)'", failure.error)
    if named:
        module = named.group(1)
    top = module.split(".", 1)[0]
    hits: dict[NormalizedName, str] = {}
    for name, plan in lean.items():
        stubs = {m.split(".", 1)[0] for m in plan.stub_modules}
        dropped = {layout.module_name(p) for p in plan.drop}
        if (
            module in dropped
            or top in stubs
            or any(m and m.split(".", 1)[0] == top for m in dropped)
        ):
            hits[name] = f"{failure}: it removed {module}"
    if not hits and failure.kind == "module":
        owner = env.owner(str(env.purelib / top / "__init__.py")) or env.owner(
            str(env.purelib / f"{top}.py")
        )
        if owner is not None and owner[0].name in lean:
            hits[owner[0].name] = f"{failure}: its module failed"
    return hits


_SCRIPT = r"""
import ctypes, importlib, json, os, sys
todo = json.loads(sys.stdin.read())
failures = []
for name in todo["modules"]:
    try:
        importlib.import_module(name)
    except BaseException as exc:
        first = (str(exc).splitlines() or [""])[0]
        failures.append(["module", name, "%s: %s" % (type(exc).__name__, first)])
def mapped():
    try:
        with open("/proc/self/maps") as maps:
            fields = [line.split(None, 5) for line in maps]
    except OSError:
        return set()
    return {f[5].strip() for f in fields if len(f) == 6}
pending = [p for p in todo["libraries"] if p not in mapped()]
errors = {}
while pending:
    left = []
    for path in pending:
        try:
            ctypes.CDLL(path, mode=os.RTLD_NOW | os.RTLD_GLOBAL)
        except OSError as exc:
            errors[path] = str(exc)
            left.append(path)
    if len(left) == len(pending):
        break
    pending = left
for path in pending:
    failures.append(["library", path, errors[path]])
sys.stdout.flush()
print(json.dumps(failures))
"""
