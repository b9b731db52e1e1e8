"""Where distributions come from: the source options among pip's arguments, pip's own
configuration, and the same sources said to uv.

pip reads its configuration files and ``PIP_*`` variables; uv reads neither. To resolve
with uv exactly as the target's pip would (``pip install`` on this machine, with its
configured indexes, find-links and constraints), ``uv_arguments`` turns pip's arguments
and the configuration pip would apply into uv's. An argument uv cannot be given the same
meaning makes it return None: pip resolves then.
"""

from __future__ import annotations

import configparser
import os
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import NormalizedName, canonicalize_name

__all__ = [
    "INDEX_OPTIONS_WITH_VALUE",
    "INDEX_FLAGS",
    "PIP_OPTIONS_WITH_VALUE",
    "PIP_FLAGS",
    "index_options",
    "PipConfiguration",
    "Request",
    "split_request",
    "uv_arguments",
]

INDEX_OPTIONS_WITH_VALUE = frozenset(
    {
        "-i",
        "--index-url",
        "--extra-index-url",
        "-f",
        "--find-links",
        "--trusted-host",
        "--cert",
        "--client-cert",
        "--proxy",
        "--retries",
        "--timeout",
    }
)
"""pip options (taking a value) that say where files come from and how to reach them."""
INDEX_FLAGS = frozenset({"--no-index", "--pre"})

PIP_OPTIONS_WITH_VALUE = INDEX_OPTIONS_WITH_VALUE | frozenset(
    {
        "-r",
        "--requirement",
        "-c",
        "--constraint",
        "-e",
        "--editable",
        "--only-binary",
        "--no-binary",
        "--platform",
        "--python-version",
        "--implementation",
        "--abi",
        "--upgrade-strategy",
        "--progress-bar",
        "--log",
        "--global-option",
        "--config-settings",
        "-C",
        "--src",
        "--exists-action",
        "--keyring-provider",
        "--use-feature",
        "--use-deprecated",
        "--root-user-action",
        "--group",
    }
)
"""Every option of ``pip install`` that takes a value (what lean-install hands to pip)."""
PIP_FLAGS = INDEX_FLAGS | frozenset(
    {
        "--prefer-binary",
        "--no-build-isolation",
        "--no-deps",
        "--require-hashes",
        "-U",
        "--upgrade",
        "--force-reinstall",
        "-I",
        "--ignore-installed",
        "--ignore-requires-python",
        "--no-clean",
        "--no-cache-dir",
        "--isolated",
        "--no-warn-script-location",
        "--no-warn-conflicts",
        "--check-build-dependencies",
        "--use-pep517",
        "--no-use-pep517",
        "-v",
        "--verbose",
        "--pre",
        "--only-deps",
        "--compile",
        "--no-compile",
        "--disable-pip-version-check",
        "--no-python-version-warning",
        "--no-color",
        "--no-input",
    }
)
"""Every flag of ``pip install`` (no value)."""


def index_options(pip_args: Sequence[str]) -> list[str]:
    """The options in ``pip_args`` that choose sources, for later pip calls to reuse.

    Keeps --index-url/-i, --extra-index-url, --find-links/-f, --no-index, --pre,
    --trusted-host and the connection options (--cert, --client-cert, --proxy, --retries,
    --timeout), in their order, in every spelling pip takes (``--opt value``,
    ``--opt=value``, ``-ivalue``). Options inside ``-r`` files are not read.
    """
    kept: list[str] = []
    args = list(pip_args)
    i = 0
    while i < len(args):
        arg = args[i]
        if arg in INDEX_FLAGS:
            kept.append(arg)
        elif arg in INDEX_OPTIONS_WITH_VALUE:
            kept.extend(args[i : i + 2])
            i += 1
        elif _is_joined(arg, INDEX_OPTIONS_WITH_VALUE, ("-i", "-f")):
            kept.append(arg)
        i += 1
    return kept


def _is_joined(arg: str, options: frozenset[str], shorts: Sequence[str]) -> bool:
    """``--index-url=URL`` or ``-iURL``: an option and its value in one argument."""
    if arg.startswith("--"):
        option, eq, _ = arg.partition("=")
        return bool(eq) and option in options
    return arg[:2] in shorts and len(arg) > 2


# -- the request: requirements and options -------------------------------------------------


@dataclass(frozen=True)
class Request:
    """pip's arguments, split: requirements (on the command line and in -r files), and
    each option with its value."""

    requirements: tuple[str, ...] = ()
    options: tuple[tuple[str, str | None], ...] = ()
    """(option, value) in order; the value None for a flag. Short spellings made long."""
    requirement_files: tuple[str, ...] = ()
    names: tuple[NormalizedName, ...] = ()
    """The requested distributions, where every requirement names one."""
    extras: Mapping[NormalizedName, tuple[str, ...]] = field(default_factory=dict)
    named: bool = True
    """Whether every requirement names its distribution (a bare path or URL does not)."""

    def values(self, option: str) -> list[str]:
        return [v for o, v in self.options if o == option and v is not None]

    def has(self, option: str) -> bool:
        return any(o == option for o, _ in self.options)


_LONG = {
    "-i": "--index-url",
    "-f": "--find-links",
    "-r": "--requirement",
    "-c": "--constraint",
    "-e": "--editable",
    "-U": "--upgrade",
    "-I": "--ignore-installed",
    "-v": "--verbose",
    "-C": "--config-settings",
}


def split_request(pip_args: Sequence[str]) -> Request:
    """Split ``pip_args`` (what lean-install hands to pip) into requirements and options."""
    requirements: list[str] = []
    options: list[tuple[str, str | None]] = []
    args = list(pip_args)
    i = 0
    while i < len(args):
        arg = args[i]
        option, value = _option(arg)
        if option is None:
            requirements.append(arg)
        elif option in PIP_OPTIONS_WITH_VALUE and value is None:
            value = args[i + 1] if i + 1 < len(args) else ""
            options.append((_LONG.get(option, option), value))
            i += 1
        else:
            options.append((_LONG.get(option, option), value))
        i += 1
    files = [v for o, v in options if o == "--requirement" and v]
    lines = [*requirements, *(line for path in files for line in _requirement_lines(Path(path)))]
    names, extras, named = _names(lines)
    return Request(tuple(requirements), tuple(options), tuple(files), names, extras, named)


def _option(arg: str) -> tuple[str | None, str | None]:
    if not arg.startswith("-") or arg == "-":
        return None, None
    if arg.startswith("--"):
        name, eq, value = arg.partition("=")
        return name, value if eq else None
    short = arg[:2]
    if short in _LONG and short in PIP_OPTIONS_WITH_VALUE and len(arg) > 2:
        return short, arg[2:]
    return arg, None


def _requirement_lines(path: Path, depth: int = 0) -> list[str]:
    """The requirement lines of a requirements file, nested ``-r`` files included."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return []
    lines = []
    for raw in text.replace("\\\n", " ").splitlines():
        line = raw.split(" #", 1)[0].strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith(("-r ", "--requirement")) and depth < 10:
            nested = shlex.split(line)[-1].removeprefix("--requirement=")
            lines += _requirement_lines(path.parent / nested, depth + 1)
        elif not line.startswith("-"):
            lines.append(line)
    return lines


def _names(
    lines: Sequence[str],
) -> tuple[tuple[NormalizedName, ...], dict[NormalizedName, tuple[str, ...]], bool]:
    names: list[NormalizedName] = []
    extras: dict[NormalizedName, tuple[str, ...]] = {}
    named = True
    for line in lines:
        try:
            req = Requirement(line)
        except InvalidRequirement:
            named = False
            continue
        name = canonicalize_name(req.name)
        names.append(name)
        if req.extras:
            extras[name] = tuple(sorted({*extras.get(name, ()), *req.extras}))
    return tuple(dict.fromkeys(names)), extras, named


# -- pip's configuration --------------------------------------------------------------------

_CONFIGURED = (
    "index-url",
    "extra-index-url",
    "find-links",
    "constraint",
    "no-index",
    "pre",
    "trusted-host",
    "cert",
    "timeout",
    "only-binary",
    "no-binary",
    "prefer-binary",
)


@dataclass(frozen=True)
class PipConfiguration:
    """What pip's configuration files and ``PIP_*`` variables set for ``pip install``."""

    values: Mapping[str, str] = field(default_factory=dict)
    isolated: bool = False
    """``PIP_CONFIG_FILE=os.devnull``: pip reads no configuration files."""

    @classmethod
    def read(cls, prefix: str, environ: Mapping[str, str] | None = None) -> PipConfiguration:
        """The configuration a ``pip install`` run in the environment at ``prefix`` sees,
        as pip loads it: global files, user files, the site file, ``$PIP_CONFIG_FILE``,
        ``[global]`` then ``[install]`` of each, then ``PIP_*`` variables."""
        environ = os.environ if environ is None else environ
        explicit = environ.get("PIP_CONFIG_FILE")
        values: dict[str, str] = {}
        if explicit != os.devnull:
            for path in _config_files(prefix, environ):
                values.update(_read_config(path))
        for key in _CONFIGURED:
            variable = "PIP_" + key.upper().replace("-", "_")
            if variable in environ:
                values[key] = environ[variable]
        return cls(values, isolated=explicit == os.devnull)

    def get(self, key: str) -> list[str]:
        """The configured values of ``key`` (whitespace-separated lists split)."""
        return self.values[key].split() if key in self.values else []

    def flag(self, key: str) -> bool:
        return self.values.get(key, "").strip().lower() in ("1", "yes", "true", "on")


def _config_files(prefix: str, environ: Mapping[str, str]) -> list[Path]:
    xdg_dirs = environ.get("XDG_CONFIG_DIRS") or "/etc/xdg"
    files = [Path(d) / "pip" / "pip.conf" for d in xdg_dirs.split(":") if d]
    files.append(Path("/etc/pip.conf"))
    home = Path(environ.get("HOME") or Path.home())
    files.append(home / ".pip" / "pip.conf")
    config_home = environ.get("XDG_CONFIG_HOME") or str(home / ".config")
    files.append(Path(config_home) / "pip" / "pip.conf")
    files.append(Path(prefix) / "pip.conf")
    if environ.get("PIP_CONFIG_FILE"):
        files.append(Path(environ["PIP_CONFIG_FILE"]))
    return [f for f in files if f.is_file()]


def _read_config(path: Path) -> dict[str, str]:
    parser = configparser.RawConfigParser()
    try:
        parser.read(path, encoding="utf-8")
    except (configparser.Error, UnicodeDecodeError):
        return {}
    values: dict[str, str] = {}
    for section in ("global", "install"):
        if parser.has_section(section):
            values.update({k.replace("_", "-"): v for k, v in parser.items(section)})
    return values


# -- uv's arguments -------------------------------------------------------------------------

_UV_SAME = {
    "--constraint": "-c",
    "--index-url": "--index-url",
    "--extra-index-url": "--extra-index-url",
    "--find-links": "--find-links",
    "--only-binary": "--only-binary",
    "--no-binary": "--no-binary",
}
_UV_FLAGS = {
    "--no-index": ["--no-index"],
    "--pre": ["--prerelease", "allow"],
    "--no-deps": ["--no-deps"],
    "--no-build-isolation": ["--no-build-isolation"],
    "--ignore-installed": [],
    "--upgrade": [],
    "--prefer-binary": [],
    "--disable-pip-version-check": [],
    "--no-color": [],
    "--no-input": [],
    "--quiet": [],
    "-q": [],
}


def uv_arguments(
    request: Request, config: PipConfiguration
) -> tuple[list[str], dict[str, str]] | None:
    """``uv pip compile`` arguments and environment variables that resolve ``request`` as
    the target's pip would; None where uv cannot be told the same thing."""
    if not request.named or request.has("--editable"):
        return None
    args = ["--index-strategy", "unsafe-best-match"]  # pip's rule: best version of any index
    extra_env: dict[str, str] = {}
    given = {o for o, _ in request.options}
    if "--index-url" not in given and not config.flag("no-index"):
        index = config.get("index-url")[:1] or ["https://pypi.org/simple"]
        args += ["--index-url", index[0]]
    for key in ("extra-index-url", "find-links", "constraint"):  # pip appends the command's
        args += [a for v in config.get(key) for a in (_UV_SAME["--" + key], v)]
    if config.flag("no-index"):
        args.append("--no-index")
    if config.flag("pre"):
        args += ["--prerelease", "allow"]
    for host in config.get("trusted-host"):
        args += ["--allow-insecure-host", host]
    if config.get("cert"):
        extra_env["SSL_CERT_FILE"] = config.get("cert")[0]
    for option, value in request.options:
        if option == "--requirement" and value:
            args.append(value)  # uv takes requirement files as arguments
        elif option in _UV_SAME and value is not None:
            args += [_UV_SAME[option], value]
        elif option in _UV_FLAGS and value is None:
            args += _UV_FLAGS[option]
        elif option == "--trusted-host" and value:
            args += ["--allow-insecure-host", value]
        elif option == "--cert" and value:
            extra_env["SSL_CERT_FILE"] = value
        elif option == "--timeout" and value:
            extra_env["UV_HTTP_TIMEOUT"] = value
        else:
            return None
    return args, extra_env
