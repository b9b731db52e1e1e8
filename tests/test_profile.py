"""The usage profile: round trips, stable output, merging, and every way a file can be bad.

``BAD_PROFILES`` is shared with test_cli.py: each case must give one ProfileError whose
message (one line) names the file, the place and the problem.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
import tomli_w
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from packaging.utils import NormalizedName

from lean_install import profile as profile_module
from lean_install.errors import LeanInstallError, ProfileError
from lean_install.profile import (
    PROFILE_VERSION,
    DistributionUsage,
    Profile,
    Trace,
    TraceEnvironment,
    check_relative_path,
    merge_profiles,
)

ENV = TraceEnvironment(python="3.11.7", platform="linux-x86_64", prefix_kind="venv")


def make_trace(
    created: str = "2025-01-01T00:00:00+00:00", *, code: int = 0, cmd: str = "x.py"
) -> Trace:
    return Trace(
        command=("python", cmd),
        exit_code=code,
        created=created,
        tool="lean-install 0.1.0",
        user="tester",
        processes=3,
        outside_files=17,
        environment=ENV,
    )


def dist(
    name: str,
    version: str = "1.0",
    files: Iterable[str] = (),
    probed: Iterable[str] = (),
    **kw: Any,
) -> DistributionUsage:
    return DistributionUsage(
        name=NormalizedName(name), version=version, files=tuple(files), probed=tuple(probed), **kw
    )


def sample() -> Profile:
    return Profile(
        traces=(make_trace(), make_trace("2025-01-02T00:00:00+00:00", code=3, cmd="y.py")),
        distributions=(
            dist(
                "torch",
                "2.13.0",
                ["torch/__init__.py", "torch/lib/libc10.so"],
                ["torch/bin/torch_shm_manager"],
                scripts=("torchrun",),
            ),  # fmt: skip
            dist("numpy", "2.1.0", ["numpy/__init__.py"], also_seen=("1.26.4",)),
            dist("numpy", "1.26.4", ["numpy/core/__init__.py"], also_seen=("2.1.0",)),
        ),
    )


# -- round trip and stable output ------------------------------------------------------


def test_round_trip_through_toml_dict_and_file(tmp_path: Path) -> None:
    original = sample()
    assert Profile.loads(original.dumps()) == original
    assert Profile.from_dict(original.to_dict()) == original
    original.dump(tmp_path / "p.toml")
    assert Profile.load(tmp_path / "p.toml") == original
    assert [p.name for p in tmp_path.iterdir()] == ["p.toml"]  # no temporary file left
    assert original.traces[1].status == "failed"
    assert original.dumps().startswith("# lean-install usage profile")


def test_output_is_sorted_whatever_the_insertion_order() -> None:
    a = Profile(
        traces=(make_trace(),),
        distributions=(
            dist("zlib-ng", "1.10", ["z/b.py", "z/a.py"], ["z/c.py"], also_seen=("1.9",)),
            dist("zlib-ng", "1.9", ["z/a.py"], also_seen=("1.10",)),
            dist("attrs", "23.1.0", ["attrs/__init__.py"]),
        ),
    )
    b = Profile(
        traces=(make_trace(),),
        distributions=(
            dist("attrs", "23.1.0", ["attrs/__init__.py", "attrs/__init__.py"]),
            dist("zlib-ng", "1.9", ["z/a.py"], also_seen=("1.10",)),
            dist("zlib-ng", "1.10", ["z/a.py", "z/b.py"], ["z/c.py", "z/a.py"], also_seen=("1.9",)),
        ),
    )
    assert a == b
    assert a.dumps() == b.dumps()
    assert [(d.name, d.version) for d in a.distributions] == [
        ("attrs", "23.1.0"),
        ("zlib-ng", "1.9"),  # PEP 440 order, not string order
        ("zlib-ng", "1.10"),
    ]
    newest = a.distributions[2]
    assert newest.files == ("z/a.py", "z/b.py")
    assert newest.probed == ("z/c.py",)  # loaded wins over probed
    text = a.dumps()
    assert text.index('"attrs"') < text.index('"1.9"') < text.index('"1.10"')


def test_equal_versions_spelled_differently_still_sort_stably() -> None:
    one = [dist("pkg", "1.0", also_seen=("1.0.0",)), dist("pkg", "1.0.0", also_seen=("1.0",))]
    assert (
        Profile(distributions=tuple(one)).dumps() == Profile(distributions=(one[1], one[0])).dumps()
    )


def test_json_form_lists_every_field() -> None:
    data = sample().to_json()
    assert data["profile-version"] == PROFILE_VERSION
    first = data["distributions"][0]
    assert set(first) == {"name", "version", "also-seen", "scripts", "files", "probed"}
    json.dumps(data)  # plain JSON types only


# -- merging ---------------------------------------------------------------------------


def test_merge_unions_files_and_loaded_beats_probed() -> None:
    a = Profile(
        traces=(make_trace(),), distributions=(dist("pkg", "1.0", ["pkg/a.py"], ["pkg/b.py"]),)
    )
    b = Profile(
        traces=(make_trace("2025-02-01T00:00:00+00:00"),),
        distributions=(dist("pkg", "1.0", ["pkg/b.py", "pkg/c.py"], ["pkg/a.py", "pkg/d.py"]),),
    )
    (merged,) = a.merge(b).distributions
    assert merged.files == ("pkg/a.py", "pkg/b.py", "pkg/c.py")
    assert merged.probed == ("pkg/d.py",)


def test_merge_keeps_both_versions_marked_and_the_result_loads() -> None:
    a = Profile(distributions=(dist("pkg", "1.0", ["pkg/old.py"]),))
    b = Profile(distributions=(dist("pkg", "2.0", ["pkg/new.py"]),))
    merged = a.merge(b)
    assert [(d.version, d.also_seen, d.files) for d in merged.distributions] == [
        ("1.0", ("2.0",), ("pkg/old.py",)),
        ("2.0", ("1.0",), ("pkg/new.py",)),
    ]
    assert Profile.loads(merged.dumps()) == merged  # valid: also-seen says so
    assert merged.find("PKG") == list(merged.distributions)


def test_merge_concatenates_traces_once_each_oldest_first() -> None:
    old, new = make_trace("2025-01-01T00:00:00+00:00"), make_trace("2025-03-01T00:00:00+00:00")
    a = Profile(traces=(new, old))
    b = Profile(traces=(old, make_trace("2025-02-01T00:00:00+00:00")))
    merged = merge_profiles([a, b, a])
    assert [t.created[:7] for t in merged.traces] == ["2025-01", "2025-02", "2025-03"]


def test_merge_is_associative_and_commutative() -> None:
    a = Profile(
        traces=(make_trace("2025-01-01T00:00:00+00:00", cmd="a.py"),),
        distributions=(dist("pkg", "1.0", ["pkg/a.py"], ["pkg/p.py"]),),
    )
    b = Profile(
        traces=(make_trace("2025-01-02T00:00:00+00:00", cmd="b.py"),),
        distributions=(dist("pkg", "2.0", ["pkg/b.py"]), dist("other", "0.1", ["o.py"])),
    )
    c = Profile(
        traces=(make_trace("2024-12-31T00:00:00+00:00"),),
        distributions=(dist("pkg", "1.0", ["pkg/p.py"]),),
    )
    results = [
        a.merge(b).merge(c),
        a.merge(b.merge(c)),
        c.merge(b, a),
        merge_profiles([b, c, a]),
    ]
    assert all(r == results[0] for r in results)
    assert len({r.dumps() for r in results}) == 1
    assert len(results[0].traces) == 3
    assert results[0].find("pkg")[0].files == ("pkg/a.py", "pkg/p.py")


def test_traces_of_the_same_second_keep_their_order() -> None:
    """``trace --append`` twice within a second still lists the runs in the order they ran."""
    first, second = make_trace(cmd="first.py"), make_trace(cmd="second.py")
    merged = Profile(traces=(first,)).merge(Profile(traces=(second,)))
    assert [t.command[1] for t in merged.traces] == ["first.py", "second.py"]


def test_usage_digest_ignores_traces_but_not_usage() -> None:
    base = sample()
    other_traces = replace(base, traces=(make_trace("1999-01-01T00:00:00+00:00"),))
    assert base.usage_digest() == other_traces.usage_digest()
    more = base.merge(Profile(distributions=(dist("torch", "2.13.0", ["torch/extra.py"]),)))
    assert more.usage_digest() != base.usage_digest()
    assert len(base.usage_digest()) == 64


def test_find_normalizes_the_name() -> None:
    profile = Profile(
        distributions=(dist("typing-extensions", "4.12.2", ["typing_extensions.py"]),)
    )
    assert [d.version for d in profile.find("Typing_Extensions")] == ["4.12.2"]
    assert profile.find("typing.extensions") == profile.find("typing-extensions")
    assert profile.find("absent") == []


def test_used_means_loaded_files_or_scripts() -> None:
    assert dist("a", files=["a.py"]).used
    assert dist("a", scripts=("a-tool",)).used
    assert not dist("a", probed=["a.py"]).used


@pytest.mark.parametrize(
    ("path", "why"),
    [
        ("pkg/mod.py", None),
        ("../../../bin/tool", "climbs out"),
        ("/usr/lib/x.so", "absolute"),
        ("C:/x.py", "absolute"),
        ("pkg//mod.py", "not normalized"),
        ("pkg/./mod.py", "not normalized"),
        ("pkg\\mod.py", "backslash"),
        ("", "empty"),
    ],
)
def test_check_relative_path(path: str, why: str | None) -> None:
    found = check_relative_path(path)
    assert (found is None) if why is None else (found is not None and why in found)


# -- bad input -------------------------------------------------------------------------


@dataclass(frozen=True)
class BadProfile:
    """A bad profile file and what its one-line error must say: where and what."""

    id: str
    content: bytes
    place: str
    problem: str
    max_bytes: int | None = None
    """Set MAX_PROFILE_BYTES to this while loading (the size limit case)."""


def _dists(*tables: str) -> bytes:
    return ("profile-version = 1\n" + "".join(f"[[distributions]]\n{t}\n" for t in tables)).encode()


_OK = 'name = "pkg"\nversion = "1.0"\n'
_TRACE = (
    'profile-version = 1\n[[traces]]\ncommand = ["python", "x.py"]\nstatus = "passed"\n'
    'exit-code = 1\nbackend = "python"\ncreated = "2025-01-01T00:00:00+00:00"\n'
    'tool = "lean-install 0.1.0"\n[traces.environment]\npython = "3.11.7"\n'
    'platform = "linux-x86_64"\nprefix-kind = "venv"\n'
)
BAD_PROFILES = [
    BadProfile("not-toml", b"profile-version = 1\n[[distributions]\n", "line 2", "not valid TOML"),
    BadProfile("not-utf8", b"profile-version = 1\n# caf\xe9\n", "", "not UTF-8"),
    BadProfile("version-3", b"profile-version = 3\n", "profile-version", "unknown version 3"),
    BadProfile("version-missing", b"distributions = []\n", "profile-version", "missing"),
    BadProfile(
        "version-string", b'profile-version = "1"\n', "profile-version", "expected an integer"
    ),
    BadProfile(
        "absolute-path",
        _dists(_OK + 'files = ["/usr/lib/x.py"]'),
        "distributions[0].files[0]",
        "is absolute",
    ),  # fmt: skip
    BadProfile(
        "dotdot-path",
        _dists(_OK + 'probed = ["pkg/../../x.py"]'),
        "distributions[0].probed[0]",
        "climbs out",
    ),  # fmt: skip
    BadProfile("duplicate", _dists(_OK, _OK), "distributions[1]", "duplicate distribution pkg 1.0"),
    BadProfile(
        "two-versions-unmarked",
        _dists(_OK, 'name = "pkg"\nversion = "2.0"'),
        "distributions[0]",
        "also-seen does not say so",
    ),  # fmt: skip
    BadProfile(
        "name-not-normalized",
        _dists('name = "Foo_Bar"\nversion = "1.0"'),
        "distributions[0].name",
        "'Foo_Bar' is not normalized (expected 'foo-bar')",
    ),  # fmt: skip
    BadProfile(
        "invalid-version",
        _dists('name = "pkg"\nversion = "one.two"'),
        "distributions[0].version",
        "'one.two' is not a valid version",
    ),  # fmt: skip
    BadProfile(
        "files-not-a-list",
        _dists(_OK + 'files = "x"'),
        "distributions[0].files",
        "expected a list of strings, got str",
    ),  # fmt: skip
    BadProfile(
        "file-not-a-string",
        _dists(_OK + 'files = ["a.py", 3]'),
        "distributions[0].files[1]",
        "expected a string",
    ),  # fmt: skip
    BadProfile(
        "unknown-top-level-key", b"profile-version = 1\ncolour = 'blue'\n", "colour", "unknown key"
    ),  # fmt: skip
    BadProfile(
        "unknown-key-in-a-distribution",
        _dists(_OK + 'fiels = ["a.py"]'),
        "distributions[0].fiels",
        "unknown key",
    ),  # fmt: skip
    BadProfile(
        "odd-key-stays-on-one-line", b'profile-version = 1\n"a\\nb" = 1\n', '"a\\nb"', "unknown key"
    ),  # fmt: skip
    BadProfile(
        "status-contradicts-exit-code",
        _TRACE.encode(),
        "traces[0].status",
        "says 'passed' but exit-code is 1",
    ),  # fmt: skip
    BadProfile(
        "deeply-nested", b"x = " + b"[" * 10_000 + b"]" * 10_000 + b"\n", "", "nested too deeply"
    ),  # fmt: skip
    BadProfile("huge-integer", b"profile-version = " + b"1" * 5000 + b"\n", "", "not valid TOML"),
    BadProfile(
        "over-the-size-limit",
        b"profile-version = 1\n" + b"# padding\n" * 20,
        "",
        "larger than the limit of 100 bytes",
        max_bytes=100,
    ),  # fmt: skip
]


def write_bad(case: BadProfile, directory: Path) -> Path:
    path = directory / f"{case.id}.toml"
    path.write_bytes(case.content)
    return path


def check_message(message: str, path: Path, case: BadProfile) -> None:
    """One line: the file, then the place, then the problem."""
    assert "\n" not in message
    assert message.startswith(f"{path}: ")
    rest = message[len(f"{path}: ") :]
    assert case.place in rest and case.problem in rest, rest
    if case.place and not case.place.startswith("line "):  # TOML errors end with the line
        assert rest.startswith(f"{case.place}: "), rest


@pytest.mark.parametrize("case", BAD_PROFILES, ids=lambda c: c.id)
def test_bad_profile_gives_one_clear_error(
    case: BadProfile, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if case.max_bytes is not None:
        monkeypatch.setattr(profile_module, "MAX_PROFILE_BYTES", case.max_bytes)
    path = write_bad(case, tmp_path)
    with pytest.raises(ProfileError) as info:
        Profile.load(path)
    error = info.value
    check_message(str(error), path, case)
    assert error.source == str(path)
    assert isinstance(error, ValueError) and isinstance(error, LeanInstallError)
    assert error.exit_code == 2
    expected_issues = 2 if case.id == "two-versions-unmarked" else 1  # each entry says so
    assert len(error.issues) == expected_issues, error.issues


def test_size_limit_applies_to_text_too(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(profile_module, "MAX_PROFILE_BYTES", 100)
    with pytest.raises(ProfileError, match="larger than the limit of 100 bytes"):
        Profile.loads("profile-version = 1\n" + "#" * 100)
    with pytest.raises(ProfileError, match="larger than the limit"):
        Profile.loads("profile-version = 1\n#" + "é" * 45)  # 45 characters, 90 bytes: over
    assert Profile.loads("profile-version = 1\n#" + "é" * 30) == Profile()


def test_every_problem_is_collected_in_one_error() -> None:
    text = _dists('name = "Foo"\nversion = "x y"\nfiles = ["/abs", "../up"]').decode()
    with pytest.raises(ProfileError) as info:
        Profile.loads(text, "many.toml")
    assert [i.where for i in info.value.issues] == [
        "distributions[0].name",
        "distributions[0].version",
        "distributions[0].files[0]",
        "distributions[0].files[1]",
    ]
    assert str(info.value).endswith("(and 3 more problems)")


def test_unreadable_file_is_a_profile_error(tmp_path: Path) -> None:
    with pytest.raises(ProfileError, match="No such file or directory"):
        Profile.load(tmp_path / "absent.toml")
    with pytest.raises(ProfileError, match="Is a directory"):
        Profile.load(tmp_path)


def test_two_versions_with_also_seen_are_valid() -> None:
    text = _dists(_OK + 'also-seen = ["2.0"]', 'name = "pkg"\nversion = "2.0"\nalso-seen = ["1.0"]')
    assert [d.version for d in Profile.loads(text.decode()).find("pkg")] == ["1.0", "2.0"]


# -- properties ------------------------------------------------------------------------

_NAMES = st.from_regex(r"[a-z][a-z0-9]{0,6}(-[a-z0-9]{1,3})?", fullmatch=True)
_VERSIONS = st.builds(
    lambda major, minor, pre: f"{major}.{minor}{pre}",
    st.integers(0, 30),
    st.integers(0, 12),
    st.sampled_from(["", "rc1", ".post2", ".dev3", "+cpu"]),
)
_SEGMENT = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="/\\\0"),
    min_size=1,
    max_size=8,
).filter(lambda s: s not in (".", ".."))
_PATHS = (
    st.lists(_SEGMENT, min_size=1, max_size=4)
    .map("/".join)
    .filter(lambda p: check_relative_path(p) is None)
)
_TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=20)
_INT64 = st.integers(-(2**63), 2**63 - 1)


@st.composite
def traces(draw: st.DrawFn) -> Trace:
    return Trace(
        command=tuple(draw(st.lists(_TEXT, min_size=1, max_size=3))),
        exit_code=draw(_INT64),
        backend=draw(st.sampled_from(["python", "strace"])),
        created=draw(_TEXT),
        tool=draw(_TEXT),
        user=draw(_TEXT),
        processes=draw(st.integers(0, 10_000)),
        outside_files=draw(st.integers(0, 10**6)),
        environment=TraceEnvironment(
            python=draw(_TEXT),
            implementation=draw(_TEXT),
            platform=draw(_TEXT),
            prefix_kind=draw(st.sampled_from(["venv", "conda", "system"])),
        ),
    )


@st.composite
def profiles(draw: st.DrawFn) -> Profile:
    versions = draw(st.dictionaries(_NAMES, st.sets(_VERSIONS, min_size=1, max_size=3), max_size=4))
    dists = [
        DistributionUsage(
            name=NormalizedName(name),
            version=version,
            files=tuple(draw(st.lists(_PATHS, max_size=4))),
            probed=tuple(draw(st.lists(_PATHS, max_size=4))),
            scripts=tuple(draw(st.lists(_TEXT, max_size=2))),
            also_seen=tuple(sorted(seen - {version})),
        )
        for name, seen in versions.items()
        for version in seen
    ]
    return Profile(traces=tuple(draw(st.lists(traces(), max_size=3))), distributions=tuple(dists))


@pytest.mark.property
@settings(deadline=None, max_examples=200)
@given(profiles())
def test_generated_profiles_round_trip(profile: Profile) -> None:
    text = profile.dumps()
    assert Profile.loads(text) == profile
    assert Profile.from_dict(profile.to_dict()) == profile
    assert Profile.loads(text).dumps() == text


@pytest.mark.property
@settings(deadline=None, max_examples=100)
@given(profiles(), profiles(), profiles())
def test_generated_merges_are_associative_and_commutative(
    a: Profile, b: Profile, c: Profile
) -> None:
    left = a.merge(b).merge(c)
    assert left == a.merge(b.merge(c))
    other_order = merge_profiles([c, a, b])
    assert other_order.distributions == left.distributions
    # traces created in the same second keep their input order; otherwise the same
    assert sorted(other_order.traces, key=repr) == sorted(left.traces, key=repr)
    assert [t.created for t in other_order.traces] == [t.created for t in left.traces]
    assert Profile.loads(left.dumps()) == left


def _loads_or_profile_error(text: str) -> None:
    try:
        result = Profile.loads(text, "fuzz.toml")
    except ProfileError as exc:
        assert str(exc).startswith("fuzz.toml")
        assert "\n" not in str(exc)
    else:
        assert isinstance(result, Profile)


@pytest.mark.property
@settings(deadline=None, max_examples=300)
@given(st.text() | st.text(st.characters(blacklist_categories=())))  # with lone surrogates
def test_arbitrary_text_parses_or_raises_profile_error(text: str) -> None:
    _loads_or_profile_error(text)
    _loads_or_profile_error("profile-version = 1\n" + text)


_KEYS = st.sampled_from(
    ["profile-version", "traces", "distributions", "name", "version", "files", "probed",
     "also-seen", "scripts", "command", "status", "exit-code", "backend", "created", "tool",
     "environment", "python", "platform", "prefix-kind", "other", "a\nb"]
)  # fmt: skip
_VALUES = st.recursive(
    st.one_of(st.integers(-5, 5), st.booleans(), _TEXT, st.sampled_from(["1.0", "pkg", "venv"])),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_KEYS, inner, max_size=4),
    max_leaves=12,
)


@pytest.mark.property
@settings(deadline=None, max_examples=300)
@given(st.dictionaries(_KEYS, _VALUES, max_size=5), st.booleans())
def test_arbitrary_toml_documents_load_or_raise_profile_error(
    document: dict[str, Any], versioned: bool
) -> None:
    if versioned:
        document["profile-version"] = PROFILE_VERSION
    _loads_or_profile_error(tomli_w.dumps(document))


@pytest.mark.property
@settings(deadline=None, max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(raw=st.binary(max_size=200) | st.text().map(lambda t: t.encode() + b"\xff"))
def test_arbitrary_bytes_load_or_raise_profile_error(
    raw: bytes, tmp_path_factory: pytest.TempPathFactory
) -> None:
    path = tmp_path_factory.getbasetemp() / "fuzz-bytes.toml"
    path.write_bytes(raw)
    try:
        Profile.load(path)
    except ProfileError as exc:
        assert "\n" not in str(exc) and str(exc).startswith(str(path))
