"""Fault injection: SIGKILL a lean-install command (and its pip) at its N-th file change.

No product hook is needed. A small module, ``lean_fault_hook``, adds an audit hook
(``sys.addaudithook``) that counts the *mutating* file operations a process makes under
the directories named in ``$FAULT_ROOTS``: an ``open`` for writing, appending or
creating, ``os.rename`` (``os.replace`` too), ``os.remove``, ``os.rmdir``, ``os.mkdir``,
``os.symlink``, ``os.link``, ``os.chmod``, ``os.truncate``, ``shutil.copyfile`` and
``shutil.rmtree``. The count is shared by every process of the run through a file
(``$FAULT_COUNTER``: each operation appends one byte with ``O_APPEND``; the file's size is
the count). When the count reaches ``$FAULT_AT`` the hook SIGKILLs its whole process group
(``$FAULT_SIGNAL=INT``: sends it SIGINT once instead, as Ctrl-C on a terminal does)
*before* that operation happens, so at ``N`` exactly ``N - 1`` operations were carried out
-- a power cut, for lean-install and its pip at once. Without ``$FAULT_AT`` it only counts.

The hook reaches every process of a run:

- lean-install itself is started as ``python -c "import lean_fault_hook; ..."`` with the
  hook's directory on ``PYTHONPATH``, in a new session (its own process group);
- lean-install strips ``PYTHONPATH`` when it runs pip, so the target venv gets the module
  and a ``lean_fault_hook.pth`` importing it: every Python process of the target loads it
  (``install_hook``). Without ``$FAULT_COUNTER`` the hook does nothing.

uv is a Rust program and cannot be hooked: runs under test use ``--installer pip``.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "HOOK_MODULE",
    "HOOK_SOURCE",
    "Operation",
    "install_hook",
    "write_hook_module",
    "run_with_fault",
    "run_program_with_fault",
    "count_operations",
    "read_log",
]

HOOK_MODULE = "lean_fault_hook"

HOOK_SOURCE = r'''"""Counts mutating file operations under $FAULT_ROOTS; SIGKILLs the
process group at the $FAULT_AT-th. Written by lean-install's tests (tests/faults.py);
inert without $FAULT_COUNTER."""
import os
import sys

_COUNTER = os.environ.get("FAULT_COUNTER")


def _roots():
    found = []
    for root in os.environ.get("FAULT_ROOTS", "").split(":"):
        if root:
            for form in (os.path.abspath(root), os.path.realpath(root)):
                found.append(form.rstrip(os.sep) + os.sep)
    return tuple(sorted(set(found)))


_ROOTS = _roots()
_AT = int(os.environ.get("FAULT_AT") or 0)
_LOG = os.environ.get("FAULT_LOG")
_SIGNAL = os.environ.get("FAULT_SIGNAL", "KILL")
_AT_PATH = os.environ.get("FAULT_AT_PATH")
_WRITING = os.O_WRONLY | os.O_RDWR | os.O_CREAT
# event -> the (path index, dir_fd index) pairs of the paths it changes
_EVENTS = {
    "open": ((0, None),),
    "os.rename": ((0, 2), (1, 3)),
    "os.remove": ((0, 1),),
    "os.rmdir": ((0, 1),),
    "os.mkdir": ((0, 2),),
    "os.symlink": ((1, 2),),
    "os.link": ((1, 3),),
    "os.chmod": ((0, 2),),
    "os.truncate": ((0, None),),
    "shutil.copyfile": ((1, None),),
    "shutil.rmtree": ((0, 1),),
}
_state = {"busy": False, "fd": None}


def _fd_path(fd):
    try:
        return os.readlink(f"/proc/self/fd/{fd}")
    except OSError:
        return None


def _absolute(path, dir_fd):
    if isinstance(path, int):
        return _fd_path(path)
    try:
        path = os.fsdecode(os.fspath(path))
    except TypeError:
        return None
    if not os.path.isabs(path):
        base = os.getcwd() if not isinstance(dir_fd, int) else _fd_path(dir_fd)
        if base is None:
            return None
        path = os.path.join(base, path)
    return os.path.normpath(path)


def _changed_path(event, args):
    if event == "open":
        mode, flags = args[1], args[2]
        if isinstance(mode, str):
            if not any(c in mode for c in "wax+"):
                return None
        elif not (isinstance(flags, int) and flags & _WRITING):
            return None
    for index, fd_index in _EVENTS[event]:
        if index >= len(args):
            continue
        dir_fd = args[fd_index] if fd_index is not None and fd_index < len(args) else None
        path = _absolute(args[index], dir_fd)
        if path is not None and (path + os.sep).startswith(_ROOTS):
            return path
    return None


def _count(event, path):
    if _state["fd"] is None:
        flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC
        _state["fd"] = os.open(_COUNTER, flags, 0o644)
    fd = _state["fd"]
    os.write(fd, b".")
    count = os.fstat(fd).st_size
    if _LOG:
        program = os.path.basename(sys.argv[0]) if getattr(sys, "argv", None) else "?"
        if program == "__main__.py":
            program = os.path.basename(os.path.dirname(sys.argv[0]))
        line = f"{count}\t{os.getpid()}\t{program}\t{event}\t{path}\n"
        log = os.open(_LOG, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            os.write(log, line.encode("utf-8", "surrogateescape"))
        finally:
            os.close(log)
    if _AT_PATH and path == _AT_PATH:  # the point named by the path it changes
        _signal_once()
    elif _AT and count >= _AT:
        import signal

        if _SIGNAL == "INT":
            _signal_once()
        else:
            os.killpg(os.getpgid(0), signal.SIGKILL)


def _signal_once():
    """SIGINT (or SIGKILL) to the process group, by the first process to get here (two
    processes counting at once can both pass the point)."""
    import signal

    try:
        os.close(os.open(_COUNTER + ".sent", os.O_WRONLY | os.O_CREAT | os.O_EXCL))
    except FileExistsError:
        return
    os.killpg(os.getpgid(0), signal.SIGINT if _SIGNAL == "INT" else signal.SIGKILL)


def _hook(event, args):
    if event not in _EVENTS or _state["busy"]:
        return
    _state["busy"] = True
    try:
        path = _changed_path(event, args)
        if path is not None:
            _count(event, path)
    finally:
        _state["busy"] = False


if _COUNTER and _ROOTS:
    sys.addaudithook(_hook)
'''


@dataclass(frozen=True)
class Operation:
    """One counted operation of a run's log."""

    number: int
    pid: int
    program: str
    """The basename of the process's ``sys.argv[0]`` (``pip`` for ``python -m pip``,
    ``-c`` for lean-install and the target interpreter's helpers)."""
    event: str
    path: str


def write_hook_module(directory: Path) -> Path:
    """Write ``lean_fault_hook.py`` into ``directory``; return its path."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{HOOK_MODULE}.py"
    path.write_text(HOOK_SOURCE, encoding="utf-8")
    return path


def install_hook(site_packages: Path) -> None:
    """Make every Python process of the venv owning ``site_packages`` load the hook."""
    write_hook_module(site_packages)
    (site_packages / f"{HOOK_MODULE}.pth").write_text(f"import {HOOK_MODULE}\n", encoding="utf-8")


# SIGINT as on a terminal, even where the tests run with it ignored (a background job's
# children inherit SIG_IGN, and Python then never raises KeyboardInterrupt); pip, started
# by lean-install, gets the default disposition back at exec
_LAUNCH = (
    "import signal; signal.signal(signal.SIGINT, signal.default_int_handler); "
    f"import {HOOK_MODULE}; from lean_install.cli import main; raise SystemExit(main())"
)


def run_with_fault(
    argv: Sequence[str],
    at: int | None,
    env: Mapping[str, str],
    roots: Sequence[Path],
    *,
    log: Path | None = None,
    timeout: float = 300,
    signal_name: str = "KILL",
    output: Path | None = None,
    at_path: Path | None = None,
) -> tuple[int, int]:
    """Run ``lean-install ARGV``, killed at its ``at``-th mutating operation under ``roots``
    (``signal_name`` ``INT``: interrupted there, as by Ctrl-C; ``output``: where its stdout
    and stderr go; ``at_path``: at the first operation that changes this path instead).

    Returns (return code, operations counted); the return code is ``-9`` when the kill
    happened. With ``at`` None the run is only counted. ``log`` collects one line per
    operation (see ``read_log``). The target venv must have the hook (``install_hook``).
    """
    command = [sys.executable, "-c", _LAUNCH, *argv]
    return run_program_with_fault(command, at, env, roots, log=log, timeout=timeout,
                                  signal_name=signal_name, output=output,
                                  at_path=at_path)  # fmt: skip


def run_program_with_fault(
    command: Sequence[str],
    at: int | None,
    env: Mapping[str, str],
    roots: Sequence[Path],
    *,
    log: Path | None = None,
    timeout: float = 300,
    signal_name: str = "KILL",
    output: Path | None = None,
    at_path: Path | None = None,
) -> tuple[int, int]:
    """As ``run_with_fault``, for any command: Python processes of a hooked venv count."""
    with tempfile.TemporaryDirectory(prefix="lean-faults-") as scratch:
        hook_dir = Path(scratch) / "hook"
        write_hook_module(hook_dir)
        counter = Path(scratch) / "counter"
        environ = {k: v for k, v in env.items() if not k.startswith("FAULT_")}
        environ.update(
            PYTHONPATH=str(hook_dir),
            FAULT_COUNTER=str(counter),
            FAULT_ROOTS=":".join(str(r) for r in roots),
        )
        if at is not None:
            environ["FAULT_AT"] = str(at)
        if at_path is not None:
            environ["FAULT_AT_PATH"] = str(Path(at_path).absolute())
        if log is not None:
            environ["FAULT_LOG"] = str(log)
        environ["FAULT_SIGNAL"] = signal_name
        returncode = _run_in_own_group(command, environ, timeout, output)
        try:
            count = counter.stat().st_size
        except FileNotFoundError:
            count = 0
        if signal_name == "INT" and not Path(f"{counter}.sent").exists():
            point = at_path or f"operation {at}"
            raise AssertionError(f"the run made {count} operations and never reached {point}")
    return returncode, count


def _run_in_own_group(
    command: Sequence[str], env: Mapping[str, str], timeout: float, output: Path | None = None
) -> int:
    sink = output.open("w") if output is not None else subprocess.DEVNULL
    try:
        process = subprocess.Popen(command, env=dict(env), stdin=subprocess.DEVNULL,
                                   stdout=sink, stderr=sink, start_new_session=True)  # fmt: skip
    finally:
        if output is not None:
            sink.close()  # type: ignore[union-attr]
    try:
        return process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        raise
    finally:
        # a killed group leaves nothing behind; a finished one may have strays
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)


def count_operations(
    argv: Sequence[str],
    env: Mapping[str, str],
    roots: Sequence[Path],
    *,
    log: Path | None = None,
) -> int:
    """The number of mutating operations a clean (unkilled) run makes; it must succeed."""
    returncode, count = run_with_fault(argv, None, env, roots, log=log)
    if returncode != 0:
        raise AssertionError(f"lean-install {' '.join(argv)} failed ({returncode}) unfaulted")
    return count


def read_log(path: Path) -> list[Operation]:
    """The operations a run's log recorded, by number."""
    operations = []
    for line in path.read_text(encoding="utf-8", errors="surrogateescape").splitlines():
        number, pid, program, event, changed = line.split("\t", 4)
        operations.append(Operation(int(number), int(pid), program, event, changed))
    return sorted(operations, key=lambda op: op.number)
