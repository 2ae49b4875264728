"""Values and inputs as the run store keeps them: JSON that comes back equal, never pickle of
untrusted data, and values that cannot be kept recorded with the reason."""

from __future__ import annotations

import dataclasses
import datetime as dt
import decimal
import enum
import pathlib
import uuid
from typing import Any

import attrs
import pytest

import podium
from podium.values.serialization import decode, encode


class Colour(enum.Enum):
    RED = "red"
    BLUE = 2


@dataclasses.dataclass(frozen=True)
class Verdict:
    approved: bool
    notes: tuple[str, ...] = ()
    score: float = dataclasses.field(default=0.0)
    seen: int = dataclasses.field(default=0, init=False)


@attrs.define
class Patch:
    files: dict[str, bytes]
    colour: Colour
    _private: int = attrs.field(default=1, alias="private")


class Model:
    """Shaped like a pydantic model: the codec relies only on model_dump / model_validate."""

    def __init__(self, name: str, size: int) -> None:
        self.name, self.size = name, size

    def model_dump(self) -> dict[str, Any]:
        return {"name": self.name, "size": self.size}

    @classmethod
    def model_validate(cls, data: dict[str, Any]) -> Model:
        return cls(**data)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Model) and (other.name, other.size) == (self.name, self.size)


VALUES = [
    None,
    True,
    3,
    2.5,
    float("inf"),
    "text ✓",
    [1, [2, "x"]],
    (1, (2, 3)),
    {"a": 1, "b": [1, 2]},
    {1: "int key", (2, 3): "tuple key", "$tag": "a key like a tag"},
    {1, 2, 3},
    frozenset({"a", "b"}),
    b"\x00\xffbytes",
    bytearray(b"mutable"),
    dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC),
    dt.date(2026, 1, 2),
    dt.time(12, 30),
    dt.timedelta(days=1, seconds=5, microseconds=7),
    decimal.Decimal("1.10"),
    uuid.UUID("12345678-1234-5678-1234-567812345678"),
    pathlib.PurePosixPath("/tmp/x"),
    Colour.BLUE,
    Verdict(True, ("ok",), 0.9),
    Patch({"a.py": b"print()"}, Colour.RED, private=7),
    Model("m", 3),
    podium.Usage(input_tokens=3, output_tokens=4, cost_usd=0.1),
]


@pytest.mark.parametrize("value", VALUES, ids=lambda v: type(v).__name__)
def test_a_value_comes_back_equal_and_of_the_same_type(value: Any) -> None:
    stored = encode(value)
    assert stored.format == "json"
    back = decode(stored)
    assert back == value
    assert type(back) is type(value)


def test_a_dataclass_field_outside_init_comes_back_too() -> None:
    verdict = Verdict(True)
    object.__setattr__(verdict, "seen", 4)
    assert decode(encode(verdict)).seen == 4


def test_a_secret_is_never_stored_even_with_pickle() -> None:
    for serializer in ("json", "pickle"):
        stored = encode({"key": podium.Secret("sk-live-123")}, serializer)
        assert stored.format == "unserializable"
        assert "secret" in str(stored.payload)
        assert "sk-live-123" not in str(stored.payload)


def test_a_value_without_a_json_form_is_recorded_with_the_reason() -> None:
    stored = encode({"callback": lambda: 1}, where="the value of stage 'x'")
    assert stored.format == "unserializable"
    assert "the value of stage 'x'['callback'] of type builtins.function has no JSON form" in str(
        stored.payload
    )
    with pytest.raises(ValueError, match="the value was not stored"):
        decode(stored)


def test_pickle_is_used_only_when_opted_in_and_read_only_from_a_trusted_store() -> None:
    value = {"when": object.__new__(PickleOnly)}
    assert encode(value).format == "unserializable"
    stored = encode(value, "pickle")
    assert stored.format == "pickle"
    with pytest.raises(ValueError, match="not configured for pickle"):
        decode(stored)
    assert isinstance(decode(stored, allow_pickle=True)["when"], PickleOnly)


class PickleOnly:
    """Neither JSON-like nor attrs/dataclass: only pickle keeps it."""


def test_decoding_never_imports_a_module() -> None:
    forged = encode(Colour.RED)
    text = str(forged.payload).replace(__name__, "antigravity")
    with pytest.raises(ValueError, match="not imported here"):
        decode(podium.StoredValue("json", text))


def test_decoding_rebuilds_only_data_classes_not_any_callable() -> None:
    text = '{"$object":"os:system","fields":{}}'
    with pytest.raises(ValueError, match="no longer a class"):
        decode(podium.StoredValue("json", text))


def test_a_damaged_payload_is_an_error_that_says_so() -> None:
    with pytest.raises(ValueError, match="damaged"):
        decode(podium.StoredValue("json", '{"$tuple": 3}'))
