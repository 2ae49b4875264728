"""Cache keys: stable across processes, canonical for equal inputs, precise about what cannot be keyed."""

from __future__ import annotations

import dataclasses
import datetime as dt
import decimal
import enum
import json
import os
import pathlib
import subprocess
import sys
import uuid

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

import podium
from podium.foundation.errors import CacheKeyError
from podium.values.keys import (
    agent_key,
    cache_key,
    canonical,
    check_namespace,
    digest,
    namespace_prefix,
    stage_key,
)


@attrs.frozen
class Ticket:
    title: str
    tags: frozenset[str]


@dataclasses.dataclass
class Point:
    x: int
    y: int


class Colour(enum.Enum):
    RED = "red"


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=5), children, max_size=4)
    ),
    max_leaves=20,
)


@given(json_values)
def test_canonical_form_is_plain_json(value: object) -> None:
    json.dumps(canonical(value), allow_nan=False)


@given(st.dictionaries(st.text(max_size=8), st.integers(), max_size=8))
def test_mapping_order_does_not_change_the_key(mapping: dict[str, int]) -> None:
    reordered = dict(reversed(list(mapping.items())))
    assert digest(canonical(mapping)) == digest(canonical(reordered))


def test_different_shapes_never_share_a_form() -> None:
    forms = [canonical(v) for v in ([1, 2], {1, 2}, {"set": [1, 2]}, {1: 2}, b"12", "12", 12, 12.0, True)]
    assert len({json.dumps(f, sort_keys=True) for f in forms}) == len(forms)


def test_structured_values_are_keyed_by_their_fields() -> None:
    a = Ticket("fix login", frozenset({"auth", "bug"}))
    b = Ticket("fix login", frozenset({"bug", "auth"}))
    assert canonical(a) == canonical(b)
    assert canonical(Point(1, 2)) != canonical(Point(2, 1))
    assert canonical(Colour.RED)["value"] == "red"


def test_common_library_types_have_stable_forms() -> None:
    values = [
        dt.datetime(2026, 1, 2, 3, 4, tzinfo=dt.UTC),
        dt.date(2026, 1, 2),
        dt.timedelta(minutes=5),
        decimal.Decimal("1.10"),
        uuid.UUID(int=7),
        pathlib.PurePosixPath("/tmp/x"),
        float("nan"),
    ]
    assert canonical(values) == canonical(list(values))
    json.dumps(canonical(values), allow_nan=False)


def test_bytes_are_hashed_not_embedded() -> None:
    blob = b"secret-ish payload" * 100
    assert "payload" not in json.dumps(canonical(blob))


def test_an_unkeyable_input_names_where_it_is_and_the_way_out() -> None:
    with pytest.raises(
        CacheKeyError, match=r"inputs\['client'\] of type builtins.object .*CachePolicy\(key="
    ):
        canonical({"client": object()}, "inputs")


def test_a_secret_is_refused_without_showing_it() -> None:
    with pytest.raises(CacheKeyError) as caught:
        canonical({"token": podium.Secret("hunter2")}, "options")
    assert "secret" in str(caught.value)
    assert "hunter2" not in str(caught.value)


def test_a_cycle_is_a_key_error_not_a_recursion_error() -> None:
    loop: list[object] = []
    loop.append(loop)
    with pytest.raises(CacheKeyError, match="cycle"):
        canonical(loop, "value")


def test_keys_are_stable_across_processes() -> None:
    # String hashing is salted per process, so set iteration order differs between them.
    tags = ", ".join(repr(f"tag-{n}") for n in range(20))
    code = (
        "from podium import agent_key;"
        f"print(agent_key('anthropic', 'claude-haiku-4-5', 'hi', {{'tags': {{{tags}}}}}))"
    )
    keys = {
        subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "PYTHONHASHSEED": seed},
        ).stdout.strip()
        for seed in ("1", "2", "3")
    }
    here = agent_key(
        "anthropic", "claude-haiku-4-5", "hi", {"tags": {f"tag-{n}" for n in reversed(range(20))}}
    )
    assert keys == {here}


def test_key_layout_is_safe_for_every_backend() -> None:
    key = cache_key("stage", "team.a", "workflow with spaces", "étape", {"x": 1})
    assert key.startswith("podium:team.a:stage:")
    assert len(key) < 250
    assert all(33 <= ord(c) < 127 for c in key)
    assert cache_key("stage", "", "w").startswith("podium:_:stage:")


def test_agent_keys_depend_on_every_part() -> None:
    base = agent_key("p", "m", "prompt", {"temperature": 0})
    assert base == agent_key("p", "m", "prompt", {"temperature": 0})
    assert (
        len(
            {
                base,
                agent_key("q", "m", "prompt", {"temperature": 0}),
                agent_key("p", "n", "prompt", {"temperature": 0}),
                agent_key("p", "m", "other", {"temperature": 0}),
                agent_key("p", "m", "prompt", {"temperature": 1}),
                agent_key("p", "m", "prompt", {"temperature": 0}, namespace="x"),
            }
        )
        == 6
    )


@pytest.mark.parametrize("bad", ["has space", "_leading", "a/b", "x" * 65, "naïve"])
def test_bad_namespaces_are_definition_errors(bad: str) -> None:
    with pytest.raises(ValueError, match="namespace"):
        check_namespace(bad)
    with pytest.raises(podium.DefinitionError, match="namespace"):
        podium.CachePolicy(namespace=bad)


def test_namespace_prefixes_do_not_overlap() -> None:
    assert not namespace_prefix("ab").startswith(namespace_prefix("a"))
    assert namespace_prefix(None) == "podium:"


def test_the_stage_key_is_the_documented_layout_of_its_parts() -> None:
    policy = podium.CachePolicy(namespace="team-a")
    kwargs = {"ticket": "Add CSV export", "limit": 3}
    material = {name: canonical(value) for name, value in kwargs.items()}
    expected = cache_key("stage", "team-a", "feature", "spec", "v1", material)
    assert stage_key("feature", "spec", "v1", policy, kwargs) == expected
    assert stage_key("feature", "spec", None, podium.CachePolicy(version="v2"), kwargs) == cache_key(
        "stage", "", "feature", "spec", "v2", material
    )
