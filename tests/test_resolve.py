"""Resolution with the target's real pip (and the same with uv), and fetching into the cache
(file:// and http)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tarfile
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import build_wheel, create_venv

from lean_install import fetch as fetching
from lean_install.cache import Cache, file_sha256
from lean_install.environment import Environment
from lean_install.errors import (
    HashMismatchError,
    PipError,
    PlanError,
    ResolutionError,
    ToolMissingError,
)
from lean_install.plan import DistributionPlan, Source
from lean_install.resolve import Resolution, ResolvedDistribution, from_pip_report
from lean_install.sources import index_options
from lean_install.target import TargetPip


def resolve(env: Environment, args: list[str]) -> Resolution:
    """pip's resolution: the reference."""
    return TargetPip(env, resolver="pip").resolve(args)


def plans(dists: object) -> list[DistributionPlan]:
    return [
        DistributionPlan(name=d.name, version=d.version, decision="keep", reason="test",
                         source=Source(filename=d.filename, url=d.url, sha256=d.sha256,
                                       archive=d.is_archive))
        for d in dists  # type: ignore[attr-defined]
    ]  # fmt: skip


def fetch(env: Environment, dists: object, cache: Cache, args: list[str]) -> dict[str, Path]:
    return fetching.fetch(plans(dists), cache, TargetPip(env), index_options(args))  # type: ignore[return-value]


BACKEND = textwrap.dedent(
    """
    import os

    def get_requires_for_build_wheel(config_settings=None):
        return []

    def prepare_metadata_for_build_wheel(metadata_directory, config_settings=None):
        info = os.path.join(metadata_directory, "srcpkg-1.0.dist-info")
        os.makedirs(info)
        with open(os.path.join(info, "METADATA"), "w") as f:
            f.write("Metadata-Version: 2.1\\nName: srcpkg\\nVersion: 1.0\\nRequires-Dist: lib\\n")
        return "srcpkg-1.0.dist-info"
    """
)
PYPROJECT = '[build-system]\nrequires = []\nbuild-backend = "backend"\nbackend-path = ["."]\n'


def publish(directory: Path) -> Path:
    """app 1.0 (needs lib>=1, extra fast needs speedup), lib 1.0 and 2.0, speedup, other."""
    build_wheel(
        directory, "app", "1.0", {"app/__init__.py": ""}, requires=("lib>=1",),
        extras={"fast": ("speedup",)},
    )  # fmt: skip
    build_wheel(directory, "lib", "1.0", {"lib/__init__.py": "V = 1\n"})
    build_wheel(directory, "lib", "2.0", {"lib/__init__.py": "V = 2\n"})
    build_wheel(directory, "speedup", "0.5", {"speedup/__init__.py": ""})
    build_wheel(directory, "other", "1.0", {"other/__init__.py": ""})
    return directory


def source_tree(directory: Path) -> Path:
    """A project whose in-tree backend prepares metadata offline (srcpkg 1.0, needs lib)."""
    directory.mkdir(parents=True)
    (directory / "pyproject.toml").write_text(PYPROJECT)
    (directory / "backend.py").write_text(BACKEND)
    (directory / "PKG-INFO").write_text("Metadata-Version: 2.1\nName: srcpkg\nVersion: 1.0\n")
    return directory


def write_sdist(tree: Path, directory: Path) -> Path:
    path = directory / "srcpkg-1.0.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        for member in sorted(tree.iterdir()):
            tar.add(member, arcname=f"srcpkg-1.0/{member.name}")
    return path


def offline(directory: Path | str, *requirements: str) -> list[str]:
    return ["--no-index", "--find-links", str(directory), *requirements]


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Environment:
    python = create_venv(tmp_path_factory.mktemp("resolve") / "venv")
    return Environment.inspect(python)


@pytest.fixture(scope="module")
def wheels(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return publish(tmp_path_factory.mktemp("wheels"))


class Server:
    def __init__(self, root: Path, port: int, log: Path) -> None:
        self.root, self.port, self.log = root, port, log

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}/{path}"

    def requests(self) -> list[str]:
        return re.findall(r'"GET (\S+) HTTP', self.log.read_text())


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """``python -m http.server`` on 127.0.0.1, on a free port it picks itself."""
    root = tmp_path_factory.mktemp("served")
    log = root.parent / f"{root.name}.log"
    command = [sys.executable, "-u", "-m", "http.server", "0", "--bind", "127.0.0.1"]
    with log.open("w") as log_stream:
        proc = subprocess.Popen(
            [*command, "--directory", str(root)],
            stdout=subprocess.PIPE,
            stderr=log_stream,
            text=True,
        )
    try:
        assert proc.stdout is not None
        found = re.search(r" port (\d+)", proc.stdout.readline())
        assert found, "http.server did not say its port"
        yield Server(root, int(found.group(1)), log)
    finally:
        proc.terminate()
        proc.wait(10)
        if proc.stdout is not None:
            proc.stdout.close()


@pytest.fixture
def no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")


# -- resolve -----------------------------------------------------------------------------


def test_resolve_reads_names_versions_flags_and_hashes(env: Environment, wheels: Path) -> None:
    resolution = resolve(env, offline(wheels, "app[fast]"))
    assert sorted((d.name, d.version) for d in resolution.distributions) == [
        ("app", "1.0"),
        ("lib", "2.0"),
        ("speedup", "0.5"),
    ]
    app = resolution.distribution("app")
    lib = resolution.distribution("LIB")
    assert app is not None and lib is not None
    assert (app.requested, lib.requested) == (True, False)
    assert app.requested_extras == ("fast",)
    assert app.requires_dist == ("lib>=1", 'speedup; extra == "fast"')
    assert resolution.extras_only == {"speedup": ("app[fast]",)}
    for dist in resolution.distributions:
        path = wheels / dist.filename
        assert dist.url == path.as_uri()
        assert dist.sha256 == file_sha256(path)
        assert dist.is_wheel and dist.is_archive and not dist.is_direct
    assert resolution.marker_environment["python_version"] == ".".join(env.python.split(".")[:2])


def test_extras_not_asked_for_are_not_resolved(env: Environment, wheels: Path) -> None:
    resolution = resolve(env, offline(wheels, "app"))
    assert sorted(d.name for d in resolution.distributions) == ["app", "lib"]
    app = resolution.distribution("app")
    assert app is not None and app.requested_extras == ()


def test_requirement_and_constraint_files_pass_through(
    env: Environment, wheels: Path, tmp_path: Path
) -> None:
    (tmp_path / "req.txt").write_text("app\n")
    (tmp_path / "constraints.txt").write_text("lib<2\n")
    args = ["-r", str(tmp_path / "req.txt"), "-c", str(tmp_path / "constraints.txt")]
    resolution = resolve(env, offline(wheels, *args))
    app, lib = resolution.distribution("app"), resolution.distribution("lib")
    assert app is not None and app.requested
    assert lib is not None and lib.version == "1.0" and not lib.requested


def test_direct_wheel_path_is_direct(env: Environment, wheels: Path) -> None:
    wheel = wheels / "app-1.0-py3-none-any.whl"
    resolution = resolve(env, offline(wheels, str(wheel)))
    app = resolution.distribution("app")
    assert app is not None and app.is_direct and app.url == wheel.as_uri()


@pytest.mark.parametrize(
    ("extra_args", "environ"),
    [(["-v"], {}), ([], {"FORCE_COLOR": "1"})],
    ids=["verbose-logs-on-stdout", "force-color"],
)
def test_report_is_found_among_other_output(
    env: Environment,
    wheels: Path,
    monkeypatch: pytest.MonkeyPatch,
    extra_args: list[str],
    environ: dict[str, str],
) -> None:
    for key, value in environ.items():
        monkeypatch.setenv(key, value)
    resolution = resolve(env, [*extra_args, *offline(wheels, "app")])
    assert sorted(d.name for d in resolution.distributions) == ["app", "lib"]


@pytest.mark.parametrize("requirement", ["lib>=3", "no-such-dist"])
def test_unresolvable_requirement_raises_resolution_error(
    env: Environment, wheels: Path, requirement: str
) -> None:
    with pytest.raises(ResolutionError) as caught:
        resolve(env, offline(wheels, requirement))
    assert requirement.split(">")[0] in caught.value.detail
    assert "matching distribution" in caught.value.detail


def test_unknown_pip_option_raises_pip_error(env: Environment, wheels: Path) -> None:
    with pytest.raises(PipError) as caught:
        resolve(env, offline(wheels, "--no-such-option", "app"))
    assert caught.value.returncode == 2
    assert "no-such-option" in caught.value.output


def test_target_without_pip_says_how_to_get_it(tmp_path: Path, wheels: Path) -> None:
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", tmp_path / "bare"], check=True)
    bare = Environment.inspect(tmp_path / "bare" / "bin" / "python")
    with pytest.raises(ToolMissingError) as caught:
        resolve(bare, offline(wheels, "app"))
    assert caught.value.tool == "pip"
    assert caught.value.hint is not None and "-m ensurepip" in caught.value.hint


def test_sdist_and_source_tree_stay_in_the_resolution(
    env: Environment, wheels: Path, tmp_path: Path
) -> None:
    tree = source_tree(tmp_path / "srcpkg")
    links = tmp_path / "links"
    shutil.copytree(wheels, links)
    sdist = write_sdist(tree, links)
    resolution = resolve(env, offline(links, "srcpkg"))
    dist = resolution.distribution("srcpkg")
    assert dist is not None and resolution.distribution("lib") is not None
    assert (dist.filename, dist.is_archive, dist.is_wheel) == (sdist.name, True, False)
    assert dist.sha256 == file_sha256(sdist)
    from_tree = resolve(env, offline(links, str(tree))).distribution("srcpkg")
    assert from_tree is not None
    assert (from_tree.is_archive, from_tree.is_wheel, from_tree.is_direct) == (False, False, True)
    assert from_tree.url == tree.as_uri() and from_tree.sha256 is None


# -- the report as data --------------------------------------------------------------------


def report_item(download_info: dict[str, object]) -> dict[str, object]:
    return {
        "download_info": download_info,
        "requested": True,
        "metadata": {"name": "Some_Dist", "version": "1.0"},
    }


@pytest.mark.parametrize(
    ("archive_info", "expected"),
    [
        ({"hash": "sha256=AB" + "0" * 62, "hashes": {"sha256": "ab" + "0" * 62}}, "ab" + "0" * 62),
        ({"hash": "sha256=" + "c" * 64}, "c" * 64),
        ({"hash": "md5=" + "d" * 32, "hashes": {"md5": "d" * 32}}, None),
        ({}, None),
    ],
    ids=["hashes", "legacy-hash", "no-sha256", "none"],
)
def test_report_item_hash_forms(archive_info: dict[str, object], expected: str | None) -> None:
    url = "https://files.example/x/Some_Dist-1.0%2Blocal-py3-none-any.whl"
    item = report_item({"url": url, "archive_info": archive_info})
    dist = ResolvedDistribution.from_report_item(item)
    assert dist.name == "some-dist"
    assert dist.filename == "Some_Dist-1.0+local-py3-none-any.whl"
    assert dist.sha256 == expected
    assert dist.is_wheel and not dist.is_direct and dist.requested_extras == ()


def test_malformed_report_raises_resolution_error() -> None:
    with pytest.raises(ResolutionError, match="not as expected"):
        from_pip_report({"install": [{"metadata": {"name": "x"}}]})


# -- index options ---------------------------------------------------------------------------

INDEX_OPTION_CASES = [
    (["app", "-r", "req.txt"], []),
    (["--index-url", "https://i/simple", "app"], ["--index-url", "https://i/simple"]),
    (["-i", "https://i/simple"], ["-i", "https://i/simple"]),
    (["-ihttps://i/simple"], ["-ihttps://i/simple"]),
    (["--index-url=https://i/simple"], ["--index-url=https://i/simple"]),
    (
        ["--extra-index-url", "https://e/simple", "--extra-index-url=https://f/simple"],
        ["--extra-index-url", "https://e/simple", "--extra-index-url=https://f/simple"],
    ),
    (["-f", "/w", "--find-links", "/x", "--find-links=/y", "-f/z"],
     ["-f", "/w", "--find-links", "/x", "--find-links=/y", "-f/z"]),
    (["--no-index", "--pre", "app[fast]>=1"], ["--no-index", "--pre"]),
    (["--trusted-host", "i.local", "--trusted-host=j.local"],
     ["--trusted-host", "i.local", "--trusted-host=j.local"]),
    (["--cert", "/c.pem", "--proxy=http://p:3128", "--timeout", "5", "--retries=2"],
     ["--cert", "/c.pem", "--proxy=http://p:3128", "--timeout", "5", "--retries=2"]),
    (["-c", "cons.txt", "--upgrade", "-q", "--only-binary=:all:", "-e", "./src"], []),
    (["--prefer-binary", "--prefix", "/p", "--index-url-x=1"], []),
]  # fmt: skip


@pytest.mark.parametrize(("args", "expected"), INDEX_OPTION_CASES)
def test_index_options(args: list[str], expected: list[str]) -> None:
    assert index_options(args) == expected


# -- fetch -----------------------------------------------------------------------------------


def test_fetch_local_files_checks_hashes_into_cache(
    env: Environment, wheels: Path, tmp_path: Path
) -> None:
    resolution = resolve(env, offline(wheels, "app"))
    cache = Cache(tmp_path / "cache")
    fetched = fetch(env, resolution.distributions, cache, offline(wheels, "app"))
    assert sorted(fetched) == ["app", "lib"]
    for dist in resolution.distributions:
        assert dist.sha256 is not None
        path = fetched[dist.name]
        assert path == tmp_path / "cache" / "originals" / dist.sha256 / dist.filename
        assert file_sha256(path) == dist.sha256
        assert (wheels / dist.filename).is_file()


def test_fetch_only_what_it_is_given(env: Environment, wheels: Path, tmp_path: Path) -> None:
    resolution = resolve(env, offline(wheels, "app[fast]"))
    keep = [d for d in resolution.distributions if d.name == "speedup"]
    cache = Cache(tmp_path / "cache")
    assert list(fetch(env, keep, cache, [])) == ["speedup"]
    assert [p.name for p in (tmp_path / "cache" / "originals").iterdir()] == [keep[0].sha256]


def test_fetch_tampered_local_file_raises_and_caches_nothing(
    env: Environment, tmp_path: Path
) -> None:
    links = publish(tmp_path / "links")
    resolution = resolve(env, offline(links, "app"))
    build_wheel(links, "lib", "2.0", {"lib/__init__.py": "TAMPERED = 1\n"})
    cache = Cache(tmp_path / "cache")
    lib = resolution.distribution("lib")
    assert lib is not None and lib.sha256 is not None
    with pytest.raises(HashMismatchError) as caught:
        fetch(env, [lib], cache, [])
    assert caught.value.expected == lib.sha256
    assert caught.value.actual == file_sha256(links / lib.filename)
    assert cache.original(lib.sha256) is None
    entry = tmp_path / "cache" / "originals" / lib.sha256
    assert not entry.exists() or list(entry.iterdir()) == []


def test_second_fetch_takes_the_cached_file(env: Environment, tmp_path: Path) -> None:
    links = publish(tmp_path / "links")
    resolution = resolve(env, offline(links, "app"))
    cache = Cache(tmp_path / "cache", link=False)
    first = fetch(env, resolution.distributions, cache, [])
    inodes = {name: path.stat().st_ino for name, path in first.items()}
    shutil.rmtree(links)  # a second copy could only come from the cache
    second = fetch(env, resolution.distributions, Cache(tmp_path / "cache"), [])
    assert second == first
    assert {name: path.stat().st_ino for name, path in second.items()} == inodes


def test_fetch_skips_a_source_tree_and_refuses_what_is_not_a_file(
    env: Environment, tmp_path: Path
) -> None:
    tree = ResolvedDistribution.from_report_item(
        report_item({"url": (tmp_path / "src").as_uri(), "dir_info": {}})
    )
    assert fetch(env, [tree], Cache(tmp_path / "cache"), []) == {}  # handed to pip as it is
    odd = ResolvedDistribution.from_report_item(
        report_item({"url": "ftp://example.invalid/x-1.0.tar.gz", "archive_info": {}})
    )
    with pytest.raises(PlanError, match="not a file lean-install can fetch") as caught:
        fetch(env, [odd], Cache(tmp_path / "cache"), [])
    assert isinstance(caught.value, ValueError)


@pytest.mark.usefixtures("no_proxy")
def test_fetch_over_http_goes_through_pip_download(
    env: Environment, server: Server, tmp_path: Path
) -> None:
    publish(server.root / "ok")
    args = ["--no-index", "--find-links", server.url("ok/"), "app[fast]"]
    resolution = resolve(env, args)
    assert all(d.url.startswith(server.url("ok/")) for d in resolution.distributions)
    assert all(d.sha256 for d in resolution.distributions)
    before = len(server.requests())
    wanted = [d for d in resolution.distributions if d.name != "speedup"]
    fetched = fetch(env, wanted, Cache(tmp_path / "cache"), args)
    assert sorted(fetched) == ["app", "lib"]
    assert sorted(server.requests()[before:]) == [
        "/ok/app-1.0-py3-none-any.whl",
        "/ok/lib-2.0-py3-none-any.whl",
    ]
    for dist in wanted:
        assert fetched[dist.name].name == dist.filename
        assert file_sha256(fetched[dist.name]) == dist.sha256
    assert list((tmp_path / "cache" / "tmp").iterdir()) == []


@pytest.mark.usefixtures("no_proxy")
def test_fetch_over_http_tampered_raises_and_caches_nothing(
    env: Environment, server: Server, tmp_path: Path
) -> None:
    publish(server.root / "bad")
    args = ["--no-index", "--find-links", server.url("bad/"), "app"]
    lib = resolve(env, args).distribution("lib")
    assert lib is not None and lib.sha256 is not None
    build_wheel(server.root / "bad", "lib", "2.0", {"lib/__init__.py": "TAMPERED = 1\n"})
    cache = Cache(tmp_path / "cache")
    with pytest.raises(HashMismatchError) as caught:
        fetch(env, [lib], cache, args)
    assert caught.value.path == lib.url
    assert cache.original(lib.sha256) is None
    assert list((tmp_path / "cache" / "tmp").iterdir()) == []


# -- uv resolves as pip does -------------------------------------------------------------------


def _same_fields(resolution: Resolution) -> list[tuple[object, ...]]:
    return sorted((d.name, d.version, d.filename, d.sha256, d.requested, d.is_archive)
                  for d in resolution.distributions)  # fmt: skip


@pytest.mark.parametrize(
    "requirements",
    [["app[fast]"], ["app"], ["app", "other"], ["lib<2"], ["app[fast]", "lib==1.0"]],
    ids=["extras", "plain", "two", "specifier", "pinned-dependency"],
)
def test_uv_resolves_as_pip_does(env: Environment, wheels: Path, requirements: list[str]) -> None:
    args = offline(wheels, *requirements)
    pip = resolve(env, args)
    uv = TargetPip(env, resolver="uv").resolve(args)
    assert uv.resolver == "uv" and pip.resolver == "pip"
    assert _same_fields(uv) == _same_fields(pip)
    assert set(uv.extras_only) == set(pip.extras_only)


def test_uv_reads_requirement_and_constraint_files_as_pip_does(
    env: Environment, wheels: Path, tmp_path: Path
) -> None:
    (tmp_path / "req.txt").write_text("app\n")
    (tmp_path / "constraints.txt").write_text("lib<2\n")
    args = offline(wheels, "-r", str(tmp_path / "req.txt"), "-c", str(tmp_path / "constraints.txt"))
    uv = TargetPip(env, resolver="uv").resolve(args)
    assert _same_fields(uv) == _same_fields(resolve(env, args))


def test_what_uv_cannot_be_told_is_resolved_by_pip(
    env: Environment, wheels: Path, tmp_path: Path
) -> None:
    tree = source_tree(tmp_path / "srcpkg")
    target = TargetPip(env, resolver="auto")
    assert target.resolve_with_uv(offline(wheels, str(tree))) is None  # a bare path: no name
    assert target.resolve_with_uv(offline(wheels, "--require-hashes", "app")) is None
    resolution = target.resolve(offline(wheels, str(tree)))
    assert resolution.resolver == "pip" and resolution.distribution("srcpkg") is not None


def test_uv_installs_where_part_of_its_cache_was_removed(
    wheels: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The unpacked wheels removed by hand, the index naming them kept: uv alone then fails on
    every install of that wheel; the target's install runs it again without the cache."""
    uv_cache = tmp_path / "uv-cache"
    monkeypatch.setenv("UV_CACHE_DIR", str(uv_cache))
    first = TargetPip(Environment.inspect(create_venv(tmp_path / "first")), installer="uv")
    first.install([wheels], ["lib==1.0"])
    unpacked = list(uv_cache.glob("archive-v*/*"))
    assert unpacked
    for directory in unpacked:
        shutil.rmtree(directory)
    python = create_venv(tmp_path / "second")
    second = TargetPip(Environment.inspect(python), installer="uv")
    alone = second.run(second.uv("install", "--no-deps", *offline(wheels, "lib==1.0")))
    assert alone.returncode != 0 and "failed to read directory" in alone.stderr, alone.stderr
    second.install([wheels], ["lib==1.0"])
    done = subprocess.run(
        [python, "-c", "import lib; print(lib.V)"], capture_output=True, text=True
    )
    assert done.stdout == "1\n", done.stderr
