"""Pydantic schemas for the native types (called from the Rust core's classmethods)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any, cast

from pydantic_core import core_schema

# Marks ObjectId's schema so that model plans (vellum._plans) recognise it exactly.
OBJECTID_MARKER = "vellum_objectid"
OBJECTID_PATTERN = "^[0-9a-fA-F]{24}$"


def objectid_core_schema(cls: Any) -> core_schema.CoreSchema:
    """ObjectId validates from an ObjectId (Vellum's, or ``bson.ObjectId`` from pymongo and its
    subclasses such as Beanie's ``PydanticObjectId``), a 24-hex str or 12 bytes. JSON sees a
    24-hex str, and so does the JSON schema (``{"type": "string", "pattern": ...}``)."""

    def validate(value: Any) -> Any:
        if isinstance(value, cls):
            return value
        try:
            return cls(value)
        except TypeError:
            raise ValueError(
                f"ObjectId expected (or a 24-hex str or 12 bytes), got {type(value).__name__}"
            ) from None

    hex_str = core_schema.str_schema(pattern=OBJECTID_PATTERN)
    return core_schema.json_or_python_schema(
        json_schema=core_schema.no_info_after_validator_function(validate, hex_str),
        python_schema=core_schema.no_info_plain_validator_function(validate),
        serialization=core_schema.plain_serializer_function_ser_schema(
            str, when_used="json-unless-none", return_schema=hex_str
        ),
        metadata={OBJECTID_MARKER: True},
    )


def regex_core_schema(cls: Any) -> core_schema.CoreSchema:
    """Regex validates from a Regex, a ``re.Pattern`` (its flags as MongoDB options) or a str
    pattern without options; JSON sees ``{"pattern": ..., "flags": ...}`` (and takes that, or a
    str pattern)."""
    import re

    def validate(value: Any) -> Any:
        if isinstance(value, cls):
            return value
        if isinstance(value, str):
            return cls(value)
        if isinstance(value, re.Pattern):
            return cls.from_pattern(value)
        if isinstance(value, dict):
            given = cast("dict[str, str]", value)
            return cls(given["pattern"], given.get("flags", ""))
        raise ValueError(f"Regex expected (or a re.Pattern or a str), got {type(value).__name__}")

    text = core_schema.str_schema()
    as_json = core_schema.typed_dict_schema(
        {
            "pattern": core_schema.typed_dict_field(text),
            "flags": core_schema.typed_dict_field(text, required=False),
        }
    )
    return core_schema.json_or_python_schema(
        json_schema=core_schema.no_info_after_validator_function(
            validate, core_schema.union_schema([text, as_json])
        ),
        python_schema=core_schema.no_info_plain_validator_function(validate),
        serialization=core_schema.plain_serializer_function_ser_schema(
            lambda r: {"pattern": r.pattern, "flags": r.flags},
            when_used="json",
            return_schema=as_json,
        ),
    )


def datetime_ms_core_schema(cls: Any) -> core_schema.CoreSchema:
    """DatetimeMS validates from a DatetimeMS, an int (milliseconds since the epoch) or a
    datetime (naive means UTC); JSON sees the milliseconds."""
    epoch = datetime(1970, 1, 1, tzinfo=timezone.utc)
    millisecond = timedelta(milliseconds=1)

    def validate(value: Any) -> Any:
        if isinstance(value, cls):
            return value
        if isinstance(value, int) and not isinstance(value, bool):
            return cls(value)
        if isinstance(value, datetime):
            aware = value if value.tzinfo is not None else value.replace(tzinfo=timezone.utc)
            return cls((aware - epoch) // millisecond)
        raise ValueError(
            f"DatetimeMS expected (or an int of milliseconds, or a datetime), "
            f"got {type(value).__name__}"
        )

    return core_schema.json_or_python_schema(
        json_schema=core_schema.no_info_after_validator_function(
            validate,
            core_schema.union_schema([core_schema.int_schema(), core_schema.datetime_schema()]),
        ),
        python_schema=core_schema.no_info_plain_validator_function(validate),
        serialization=core_schema.plain_serializer_function_ser_schema(
            lambda d: d.millis, when_used="json", return_schema=core_schema.int_schema()
        ),
    )
