"""The command line, called as ``main(argv)``: profile show/merge and report on a real venv.

``trace`` is tested in test_tracing.py (including a missing command exiting 127).
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest
from conftest import build_wheel, create_venv, pip_install, site_packages
from packaging.utils import NormalizedName
from test_profile import BAD_PROFILES, BadProfile, make_trace, write_bad

from lean_install import profile as profile_module
from lean_install.cli import main
from lean_install.profile import DistributionUsage, Profile, merge_profiles

WHEEL_FILES: dict[str, bytes | str] = {
    "shiny/__init__.py": "from shiny.core import run\n",
    "shiny/core.py": "def run():\n    return 'ok'\n",
    "shiny/unused.py": "X = 1\n" * 40,
    "shiny/tests/test_core.py": "def test_run():\n    pass\n",
    "shiny/include/shiny.h": "int shiny(void);\n",
    "shiny/data/big.bin": bytes(20_000),
}
USED = ("shiny/__init__.py", "shiny/core.py")


def _profile(version: str = "1.0", created: str = "2025-01-01T00:00:00+00:00") -> Profile:
    return Profile(
        traces=(make_trace(created),),
        distributions=(
            DistributionUsage(
                name=NormalizedName("shiny"),
                version=version,
                files=USED,
                probed=("shiny/unused.py",),
                scripts=("shiny-tool",),
            ),
        ),
    )


@pytest.fixture
def profile_file(tmp_path: Path) -> Path:
    path = tmp_path / "shiny.toml"
    _profile().dump(path)
    return path


# -- profile show / merge --------------------------------------------------------------


def test_profile_show_prints_a_table(
    profile_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["profile", "show", str(profile_file)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split() == ["distribution", "version", "loaded", "probed", "listed", "scripts"]
    assert out[1].split() == ["shiny", "1.0", "2", "1", "0", "shiny-tool"]
    assert out[3].startswith("trace 2025-01-01T00:00:00+00:00 passed")
    assert out[3].endswith(": python x.py")


def test_profile_show_json(profile_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["profile", "show", "--json", str(profile_file)]) == 0
    data = json.loads(capsys.readouterr().out)
    (entry,) = data["distributions"]
    assert entry["name"] == "shiny" and entry["version"] == "1.0"
    assert entry["files"] == list(USED)
    assert entry["probed"] == ["shiny/unused.py"]
    assert entry["also-seen"] == [] and entry["scripts"] == ["shiny-tool"]
    assert data["traces"][0]["exit-code"] == 0
    assert Profile.from_dict(data) == _profile()  # the JSON is the profile, losslessly


def test_profile_merge_writes_the_union(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a, b, out = tmp_path / "a.toml", tmp_path / "b.toml", tmp_path / "out.toml"
    _profile("1.0").dump(a)
    _profile("2.0", "2025-02-01T00:00:00+00:00").dump(b)
    assert main(["profile", "merge", str(a), str(b), "-o", str(out)]) == 0
    assert capsys.readouterr().err == f"lean-install: merged 2 profiles into {out}\n"
    merged = Profile.load(out)
    assert merged == merge_profiles([Profile.load(a), Profile.load(b)])
    assert [(d.version, d.also_seen) for d in merged.distributions] == [
        ("1.0", ("2.0",)),
        ("2.0", ("1.0",)),
    ]
    assert len(merged.traces) == 2


def test_profile_merge_with_a_bad_input_writes_nothing(
    tmp_path: Path, profile_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = write_bad(BAD_PROFILES[0], tmp_path)
    out = tmp_path / "out.toml"
    assert main(["profile", "merge", str(profile_file), str(bad), "-o", str(out)]) == 2
    assert capsys.readouterr().err.startswith(f"lean-install: error: {bad}: ")
    assert not out.exists()


def _one_error_line(err: str) -> str:
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("lean-install: error: ")
    assert "Traceback" not in err
    return lines[0][len("lean-install: error: ") :]


@pytest.mark.parametrize("case", BAD_PROFILES, ids=lambda c: c.id)
def test_bad_profile_is_one_error_line_and_exit_2(
    case: BadProfile,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    if case.max_bytes is not None:
        monkeypatch.setattr(profile_module, "MAX_PROFILE_BYTES", case.max_bytes)
    path = write_bad(case, tmp_path)
    assert main(["profile", "show", str(path)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    message = _one_error_line(captured.err)
    assert message.startswith(f"{path}: ")
    assert case.place in message and case.problem in message, message


# -- report ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def shiny_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real venv with the real pip and one real wheel, shiny 1.0, installed."""
    base = tmp_path_factory.mktemp("cli")
    wheel = build_wheel(base / "wheels", "shiny", "1.0", WHEEL_FILES)
    python = create_venv(base / "venv")
    pip_install(python, str(wheel))
    return python


def _disk_bytes(directory: Path) -> tuple[int, int]:
    """Files and bytes under ``directory``: regular files and symlinks, by lstat."""
    files = size = 0
    for root, _, names in os.walk(directory):
        for name in names:
            st = os.lstat(os.path.join(root, name))  # noqa: PTH118
            if stat.S_ISREG(st.st_mode) or stat.S_ISLNK(st.st_mode):
                files, size = files + 1, size + st.st_size
    return files, size


def _outside_bytes(sp: Path) -> tuple[int, int]:
    """Installed files that RECORDs place outside site-packages (console scripts)."""
    seen: set[Path] = set()
    for record in sp.glob("*.dist-info/RECORD"):
        for line in record.read_text().splitlines():
            path = line.rsplit(",", 2)[0]
            if path.startswith("../"):
                seen.add(Path(os.path.normpath(sp / path)))
    existing = [p for p in seen if p.is_file() or p.is_symlink()]
    return len(existing), sum(os.lstat(p).st_size for p in existing)


def _report(args: list[str], capsys: pytest.CaptureFixture[str]) -> dict:  # type: ignore[type-arg]
    assert main(["report", "--json", *args]) == 0
    return json.loads(capsys.readouterr().out)  # type: ignore[no-any-return]


def test_report_totals_are_the_bytes_on_disk(
    shiny_venv: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = _report(["--python", str(shiny_venv)], capsys)
    sp = site_packages(shiny_venv).resolve()
    files, size = _disk_bytes(sp)
    out_files, out_size = _outside_bytes(sp)
    assert out_files >= 1  # pip's console scripts: the sum is not just site-packages
    assert data["totals"]["bytes"] == size + out_size
    assert data["totals"]["files"] == files + out_files
    assert data["has-profile"] is False
    shiny = next(d for d in data["distributions"] if d["name"] == "shiny")
    dist_files, dist_size = _disk_bytes(sp / "shiny")
    meta_files, meta_size = _disk_bytes(sp / "shiny-1.0.dist-info")
    assert shiny["bytes"] == dist_size + meta_size
    assert shiny["files"] == dist_files + meta_files
    assert shiny["categories"]["tests"]["files"] >= 1
    assert shiny["categories"]["headers"]["bytes"] == len(WHEEL_FILES["shiny/include/shiny.h"])
    assert data["totals"]["bloat-basis"] == "categories"


def test_report_with_a_profile_counts_used_bytes(
    shiny_venv: Path, profile_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = _report(["--python", str(shiny_venv), "--profile", str(profile_file)], capsys)
    sp = site_packages(shiny_venv).resolve()
    shiny = next(d for d in data["distributions"] if d["name"] == "shiny")
    used = USED + ("shiny/unused.py",)  # probed counts as used: it must stay
    _, meta_size = _disk_bytes(sp / "shiny-1.0.dist-info")
    assert shiny["used-bytes"] == sum((sp / p).stat().st_size for p in used) + meta_size
    assert shiny["unused-bytes"] == shiny["bytes"] - shiny["used-bytes"]
    assert shiny["unused-bytes"] >= len(WHEEL_FILES["shiny/data/big.bin"])
    totals = data["totals"]
    assert data["has-profile"] is True and totals["bloat-basis"] == "profile"
    assert totals["bloat-bytes"] == totals["unused-bytes"] == totals["bytes"] - totals["used-bytes"]
    pip = next(d for d in data["distributions"] if d["name"] == "pip")
    assert 0 < pip["used-bytes"] < pip["bytes"]  # not in the profile: its metadata only


def test_report_text_names_the_environment(
    shiny_venv: Path, profile_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["report", "--python", str(shiny_venv), "--profile", str(profile_file)]) == 0
    out = capsys.readouterr().out
    assert "| shiny" in out
    assert "Used by the profile:" in out


def test_report_with_a_bad_profile_or_python_is_one_error_line(
    tmp_path: Path, shiny_venv: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = write_bad(BAD_PROFILES[2], tmp_path)
    assert main(["report", "--python", str(shiny_venv), "--profile", str(bad)]) == 2
    assert _one_error_line(capsys.readouterr().err).startswith(f"{bad}: profile-version: ")
    missing = tmp_path / "no-python"
    assert main(["report", "--python", str(missing)]) == 1
    assert "no such interpreter" in _one_error_line(capsys.readouterr().err)


# -- the faults a new user hit (issue 10), each a test ----------------------------------


def _pty_run(argv: list[str], env: dict[str, str]) -> tuple[int, str]:
    """Run ``argv`` with a terminal as stdin, stdout and stderr; (exit code, what it showed)."""
    import pty
    import select
    import subprocess

    master, slave = pty.openpty()
    process = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, env=env)
    os.close(slave)
    shown = b""
    while True:
        ready, _, _ = select.select([master], [], [], 120)
        if not ready:
            break
        try:
            chunk = os.read(master, 65536)
        except OSError:  # the terminal closed: the process ended
            break
        if not chunk:
            break
        shown += chunk
    os.close(master)
    return process.wait(60), shown.decode("utf-8", "replace")


def test_the_installing_progress_bar_shows_on_a_terminal(tmp_path: Path) -> None:
    """Each step has its bar on a terminal, installing included (it used to be closed and
    never shown again after planning)."""
    import sys

    wheel = build_wheel(tmp_path / "wheels", "shiny", "1.0", WHEEL_FILES)
    venv = create_venv(tmp_path / "venv")
    env = {**os.environ, "LEAN_INSTALL_CACHE_DIR": str(tmp_path / "cache"), "COLUMNS": "120"}
    code, shown = _pty_run([sys.executable, "-m", "lean_install", "install", "--python", str(venv),
                            "--installer", "pip", "--no-index", "--find-links",
                            str(wheel.parent), "shiny"], env)  # fmt: skip
    assert code == 0, shown
    assert "installing with pip" in shown and "verifying" in shown, shown


def test_help_is_lean_installs_wherever_it_is_asked(capsys: pytest.CaptureFixture[str]) -> None:
    for argv in (["wheel", "--help"], ["install", "--python", "/x/bin/python", "--help"],
                 ["lock", "-h"], ["sync", "--help"]):  # fmt: skip
        with pytest.raises(SystemExit) as exited:
            main(argv)
        assert exited.value.code == 0, argv
        out = capsys.readouterr().out
        assert out.startswith(f"usage: lean-install {argv[0]}"), out
        assert "pip's own options" in out


def test_an_option_typo_is_a_usage_error_not_a_pip_error(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["install", "--profle", "train.toml", "rich"]) == 2
    err = capsys.readouterr().err
    assert "unknown option --profle" in err and "did you mean --profile?" in err
    assert main(["wheel", "-w", "out", "--no-such-thing", "rich"]) == 2
    assert "unknown option --no-such-thing" in capsys.readouterr().err


def test_bundled_profile_names_work_everywhere_and_a_misspelt_one_lists_them(
    shiny_venv: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["profile", "show", "tabular"]) == 0
    assert "scikit-learn" in capsys.readouterr().out
    assert main(["report", "--python", str(shiny_venv), "--profile", "tabular", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["has-profile"] is True
    assert main(["profile", "show", "tabluar"]) == 2
    err = capsys.readouterr().err
    assert "no bundled profile of that name" in err and "did you mean 'tabular'?" in err
    assert "transformers-small" in err


def test_a_local_directory_is_planned_as_handed_to_pip(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``install --dry-run ./localdir`` ended in a raw ValueError traceback."""
    project = tmp_path / "srcpkg"
    project.mkdir()
    (project / "pyproject.toml").write_text(
        '[build-system]\nrequires = []\nbuild-backend = "backend"\nbackend-path = ["."]\n'
    )
    (project / "backend.py").write_text(
        "import os\n"
        "def get_requires_for_build_wheel(config_settings=None):\n    return []\n"
        "def prepare_metadata_for_build_wheel(directory, config_settings=None):\n"
        "    os.makedirs(os.path.join(directory, 'srcpkg-1.0.dist-info'))\n"
        "    with open(os.path.join(directory, 'srcpkg-1.0.dist-info', 'METADATA'), 'w') as f:\n"
        "        f.write('Metadata-Version: 2.1\\nName: srcpkg\\nVersion: 1.0\\n')\n"
        "    return 'srcpkg-1.0.dist-info'\n"
    )
    venv = create_venv(tmp_path / "venv")
    code = main(
        ["install", "--python", str(venv), "--dry-run", "--json", "--no-index", str(project)]
    )
    assert code == 0
    plan = json.loads(capsys.readouterr().out)["plan"]
    srcpkg = next(d for d in plan["distributions"] if d["name"] == "srcpkg")
    assert srcpkg["decision"] == "keep" and "pip installs it as it is" in srcpkg["reason"]
    assert srcpkg["source"]["archive"] is False
