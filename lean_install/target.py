"""The target's installer: one object runs the target environment's pip (or uv) for
everything lean-install asks of it: resolve, download, install, uninstall, check, compile.

Every subprocess gets the same environment (``environ``): the caller's, without
``PYTHONPATH`` (lean-install's own path must not leak into the target), with colour off
and UTF-8 output, so pip's messages can be read back and shown.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, NoReturn

from packaging.tags import Tag, parse_tag
from packaging.utils import NormalizedName

from lean_install.environment import Environment
from lean_install.errors import (
    EnvironmentInspectionError,
    PipError,
    ResolutionError,
    ToolMissingError,
)
from lean_install.resolve import Resolution, find_report, from_pip_report, from_uv_lock
from lean_install.sources import PipConfiguration, split_request, uv_arguments

__all__ = ["Installer", "Resolver", "uv_binary", "choose_installer", "TargetPip"]

Installer = Literal["pip", "uv"]
Resolver = Literal["auto", "pip", "uv"]
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
_TAIL_LINES = 25
_DROPPED = frozenset({"PYTHONPATH", "FORCE_COLOR", "CLICOLOR_FORCE"})
_BROKEN_UV_CACHE = re.compile(r"failed to read directory `[^`]*archive-v\d+")
"""uv's cache naming an unpacked wheel that is gone (part of the cache was removed by hand):
uv 0.13 does not recover, not even with --refresh or --reinstall; with --no-cache it does."""


def uv_binary() -> str | None:
    """uv: on PATH, or the one the ``uv`` package installed beside lean-install."""
    found = shutil.which("uv")
    if found:
        return found
    try:
        from uv import find_uv_bin  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        return None
    try:
        return str(find_uv_bin())
    except FileNotFoundError:
        return None


def choose_installer(requested: str) -> Installer:
    """``auto`` takes uv where it is installed (it installs several times faster)."""
    if requested in ("pip", "uv"):
        return requested  # type: ignore[return-value]
    return "uv" if uv_binary() else "pip"


def _tail(text: str) -> str:
    return "\n".join(_ANSI.sub("", text).strip().splitlines()[-_TAIL_LINES:])


@dataclass
class TargetPip:
    """The installer of ``env``: pip, or uv where chosen and present."""

    env: Environment
    installer: Installer = "pip"
    resolver: Resolver = "auto"
    _config: PipConfiguration | None = field(default=None, repr=False)

    # -- running ---------------------------------------------------------------------------

    @staticmethod
    def environ(extra: Mapping[str, str] | None = None) -> dict[str, str]:
        """The environment of every installer run (the one rule)."""
        environ = {k: v for k, v in os.environ.items() if k not in _DROPPED}
        environ.update(NO_COLOR="1", PYTHONIOENCODING="utf-8", **(extra or {}))
        return environ

    def run(
        self,
        command: Sequence[str],
        *,
        input: str | None = None,
        extra_env: Mapping[str, str] | None = None,
    ) -> subprocess.CompletedProcess[str]:
        try:
            return subprocess.run(
                list(command),
                input=input,
                capture_output=True,
                text=True,
                encoding="utf-8",
                errors="replace",
                env=self.environ(extra_env),
                check=False,
            )
        except OSError as exc:
            raise EnvironmentInspectionError(command[0], f"cannot run: {exc}") from None

    def checked(self, command: Sequence[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
        done = self.run(command, **kwargs)  # type: ignore[arg-type]
        if done.returncode != 0:
            raise PipError(command, done.returncode, done.stderr + done.stdout)
        return done

    def pip(self, *args: str) -> list[str]:
        return [self.env.executable, "-m", "pip", *args, "--disable-pip-version-check"]

    def uv(self, *args: str) -> list[str]:
        return [uv_binary() or "uv", "pip", *args, "--python", self.env.executable]

    @property
    def configuration(self) -> PipConfiguration:
        if self._config is None:
            self._config = PipConfiguration.read(str(self.env.prefix))
        return self._config

    # -- resolving -------------------------------------------------------------------------

    def resolve(self, pip_args: Sequence[str]) -> Resolution:
        """What the target's pip would install for ``pip_args``, from metadata only: by uv
        where it is present and can be told the same sources, else by pip."""
        if self.resolver != "pip" and uv_binary():
            resolution = self.resolve_with_uv(pip_args)
            if resolution is not None:
                return resolution
            if self.resolver == "uv":
                raise ResolutionError(
                    "uv cannot resolve this request as pip would; use --resolver pip"
                )
        return self.resolve_with_pip(pip_args)

    def resolve_with_pip(self, pip_args: Sequence[str]) -> Resolution:
        command = self.pip(
            "install", "--dry-run", "--ignore-installed", "--report", "-", "-q", *pip_args
        )
        done = self.run(command)
        if done.returncode != 0:
            self._raise_for_pip(command, done)
        return from_pip_report(find_report(done.stdout, _tail(done.stdout)))

    def _raise_for_pip(
        self, command: Sequence[str], done: subprocess.CompletedProcess[str]
    ) -> NoReturn:
        output = done.stderr if done.stderr.strip() else done.stdout
        if "No module named pip" in output:
            raise ToolMissingError("pip", f"{self.env.executable} -m ensurepip --upgrade")
        if "no such option: --report" in output or "no such option: --dry-run" in output:
            raise ToolMissingError(
                "pip >= 23", f"{self.env.executable} -m pip install --upgrade pip"
            )
        if done.returncode == 2:  # pip's usage error: an option it does not know
            raise PipError(command, done.returncode, output)
        raise ResolutionError(_tail(output) or f"pip exited with status {done.returncode}")

    def resolve_with_uv(self, pip_args: Sequence[str]) -> Resolution | None:
        """The same resolution by ``uv pip compile``; None where uv cannot be told what
        pip would do (an option it has no equivalent for, an unnamed requirement) or uv
        fails: pip resolves then, and says why if it cannot."""
        request = split_request(pip_args)
        translated = uv_arguments(request, self.configuration)
        if translated is None:
            return None
        args, extra_env = translated
        full = self._uv_lock(request.requirements, args, extra_env)
        if full is None:
            return None
        base = None
        if request.extras:
            plain = [_without_extras(r) for r in request.requirements]
            if plain == list(request.requirements):  # the extras are in -r files
                return None
            base_lock = self._uv_lock(plain, args, extra_env)
            if base_lock is None:
                return None
            base_resolution = from_uv_lock(base_lock, request.names, {}, self.env.markers)
            if base_resolution is None:
                return None
            base = {d.name for d in base_resolution.distributions}
        return from_uv_lock(full, request.names, request.extras, self.env.markers, base)

    def _uv_lock(
        self, requirements: Sequence[str], args: Sequence[str], extra_env: Mapping[str, str]
    ) -> str | None:
        with tempfile.TemporaryDirectory(prefix="lean-install-uv-") as tmp:
            inputs = []
            if requirements:
                source = Path(tmp) / "requirements.in"
                source.write_text("\n".join(requirements) + "\n", encoding="utf-8")
                inputs.append(str(source))
            command = self.uv(
                "compile",
                "--format",
                "pylock.toml",
                "--no-header",
                "--no-annotate",
                "-q",
                *args,
                *inputs,
            )
            done = self.run(command, extra_env=extra_env)
        return done.stdout if done.returncode == 0 else None

    # -- files -----------------------------------------------------------------------------

    def download(self, urls: Sequence[str], directory: Path, sources: Sequence[str]) -> None:
        """``pip download --no-deps`` of ``urls`` into ``directory``, with ``sources``."""
        self.checked(self.pip("download", "--no-deps", "-q", "-d", str(directory), *sources, *urls))

    def install(
        self,
        find_links: Sequence[Path],
        pins: Sequence[str],
        *,
        sources: Sequence[str] = ("--no-index",),
        reinstall: bool = False,
        compile_all: bool = True,
    ) -> None:
        """Install ``pins`` (``name==version``, or requirements pip is given as they are)
        with ``--no-deps`` from the ``find_links`` directories."""
        links = [a for d in find_links for a in ("--find-links", str(d))]
        if self.installer == "uv":
            head = self.uv("install", "--no-deps", "--quiet")
            head += (["--reinstall"] if reinstall else []) + (
                ["--compile-bytecode"] if compile_all else []
            )
        else:
            head = self.pip("install", "--no-deps", "--quiet")
            head += (["--force-reinstall"] if reinstall else []) + (
                [] if compile_all else ["--no-compile"]
            )
        command = [*head, *links, *sources, *pins]
        done = self.run(command)
        if done.returncode != 0 and _BROKEN_UV_CACHE.search(done.stderr):
            done = self.run([*head, "--no-cache", *links, *sources, *pins])
        if done.returncode != 0:
            raise PipError(command, done.returncode, done.stderr + done.stdout)

    def uninstall(self, names: Sequence[NormalizedName | str]) -> None:
        """pip skips (and says so) what is already gone: running it again is safe."""
        if names:
            self.checked(self.pip("uninstall", "-y", "-q", *names))

    def check(self) -> tuple[bool, str]:
        """``pip check`` (uv's, when uv installs: the same check, without pip's start-up)."""
        command = self.uv("check") if self.installer == "uv" else self.pip("check")
        done = self.run(command)
        return done.returncode == 0, (done.stdout + done.stderr).strip()

    def compile(self, sources: Sequence[str], cache: Path | None = None) -> str:
        """Give ``sources`` their bytecode, compiled by the target's interpreter (its cache
        tag, its magic number); the problems, as pip's compileall would only warn.

        With ``cache`` (a directory), bytecode is kept there by the source's sha256 and
        the interpreter's magic number, and copied from there the next time: a source
        compiled once is never compiled again. Those files are hash-checked (PEP 552):
        valid whatever the source file's time stamp, as a copy in a new venv needs.
        """
        if not sources:
            return ""
        request = json.dumps({"cache": str(cache) if cache else "", "sources": list(sources)})
        done = self.run([self.env.executable, "-I", "-c", _COMPILE_SCRIPT], input=request)
        return (done.stdout + (done.stderr if done.returncode else "")).strip()

    def tags(self) -> tuple[Tag, ...]:
        """The wheel tags the target accepts, most preferred first (through its pip's
        vendored packaging, which knows the target's platform)."""
        done = self.run([self.env.executable, "-I", "-c", _TAGS_SCRIPT])
        if done.returncode != 0:
            if "No module named 'pip" in done.stderr:
                raise ToolMissingError("pip", f"{self.env.executable} -m ensurepip --upgrade")
            detail = (done.stderr.strip().splitlines() or [f"exit {done.returncode}"])[-1]
            raise EnvironmentInspectionError(self.env.executable, detail)
        return tuple(tag for line in done.stdout.split() for tag in parse_tag(line))


def _without_extras(requirement: str) -> str:
    return re.sub(r"\[[^\]]*\]", "", requirement, count=1)


_TAGS_SCRIPT = (
    "from pip._vendor.packaging.tags import sys_tags\nprint(' '.join(map(str, sys_tags())))"
)

_COMPILE_SCRIPT = """
import concurrent.futures, hashlib, importlib.util, json, os, py_compile, shutil, sys

HASHED = py_compile.PycInvalidationMode.CHECKED_HASH

def place(source, target):
    tmp = "%s.%d.tmp" % (target, os.getpid())
    os.makedirs(os.path.dirname(target), exist_ok=True)
    shutil.copyfile(source, tmp)
    os.replace(tmp, target)

def compile_one(job):
    path, cached = job
    try:
        target = importlib.util.cache_from_source(path)
        if cached and os.path.isfile(cached):
            place(cached, target)
            return None
        mode = HASHED if cached else py_compile.PycInvalidationMode.TIMESTAMP
        py_compile.compile(path, target, doraise=True, invalidation_mode=mode)
        if cached:
            place(target, cached)
    except Exception as exc:
        return "%s: %s" % (path, exc)

if __name__ == "__main__":
    request = json.loads(sys.stdin.read())
    store = request["cache"]
    if store:
        store = os.path.join(store, "%s-%s" % (sys.implementation.cache_tag,
                                               importlib.util.MAGIC_NUMBER.hex()))
    jobs = []
    for path in request["sources"]:
        cached = ""
        if store:
            with open(path, "rb") as source:
                digest = hashlib.sha256(source.read()).hexdigest()
            cached = os.path.join(store, digest[:2], digest + ".pyc")
        jobs.append((path, cached))
    misses = sum(1 for _, cached in jobs if not (cached and os.path.isfile(cached)))
    if misses < 200:
        problems = [p for p in map(compile_one, jobs) if p]
    else:
        with concurrent.futures.ProcessPoolExecutor(min(os.cpu_count() or 1, 8)) as pool:
            problems = [p for p in pool.map(compile_one, jobs, chunksize=32) if p]
    print("\\n".join(problems))
"""
