"""The allow-list of plan derivation: which core-schema keys and values leave an exactly typed
input's value unchanged (so the core may build or encode it), and which are constraints."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

# Keys any node may carry without changing what it accepts or how it is dumped.
NEUTRAL = frozenset({"type", "ref", "metadata", "strict"})
# Per scalar node type: the stored kind, and the constraint keys (checked by validation, so a
# plan for `exact` refuses them; trusted fetch does not re-check them; writes ignore them).
SCALARS: dict[str, tuple[str, frozenset[str]]] = {
    "str": ("str", frozenset({"min_length", "max_length", "pattern", "regex_engine"})),
    "int": ("int", frozenset({"gt", "ge", "lt", "le", "multiple_of"})),
    "float": ("float", frozenset({"gt", "ge", "lt", "le", "multiple_of"})),
    "bool": ("bool", frozenset()),
    "decimal": (
        "decimal",
        frozenset({"gt", "ge", "lt", "le", "multiple_of", "max_digits", "decimal_places"}),
    ),
    "datetime": ("datetime", frozenset({"gt", "ge", "lt", "le", "now_op", "tz_constraint"})),
    "uuid": ("uuid", frozenset({"version"})),
    "bytes": ("bytes", frozenset({"min_length", "max_length"})),
}
LIST_CONSTRAINTS = frozenset({"min_length", "max_length"})
# The constraints the core checks itself in a read plan, per node type (see ``src/codec/checks.rs``
# for their semantics); a node with any other constraint is validated by Pydantic. A float's
# ``multiple_of`` is not among them: pydantic-core's rounding rule for it changed between
# releases.
CHECKED: dict[str, frozenset[str]] = {
    "str": frozenset({"min_length", "max_length", "pattern", "regex_engine"}),
    "int": frozenset({"gt", "ge", "lt", "le", "multiple_of"}),
    "float": frozenset({"gt", "ge", "lt", "le"}),
    "list": LIST_CONSTRAINTS,
}
# A config key that stands in for a str node's own key when the node has none.
STR_CONFIG = {"min_length": "str_min_length", "max_length": "str_max_length"}
INT64 = range(-(2**63), 2**63)
# Scalar options that never change the value of an exactly typed input.
HARMLESS: dict[str, Callable[[Any], bool]] = {
    "microseconds_precision": lambda v: v in ("truncate", "error"),  # BSON keeps milliseconds
    "allow_inf_nan": lambda v: v is True,  # False would refuse a stored NaN/inf double
    "coerce_numbers_to_str": lambda v: True,  # only for numbers given to a str field
    "fail_fast": lambda v: True,
    "strip_whitespace": lambda v: not v,
    "to_lower": lambda v: not v,
    "to_upper": lambda v: not v,
}
# Config keys (as the core schema spells them) that do not change how an exactly typed dict
# validates; the value test says which values are harmless.
CONFIG: dict[str, Callable[[Any], bool]] = {
    "title": lambda v: True,
    "validate_by_alias": lambda v: True,
    "validate_by_name": lambda v: True,
    "serialize_by_alias": lambda v: True,
    "validate_assignment": lambda v: True,
    "revalidate_instances": lambda v: True,
    "from_attributes": lambda v: True,
    "loc_by_alias": lambda v: True,
    "hide_input_in_errors": lambda v: True,
    "validation_error_cause": lambda v: True,
    "cache_strings": lambda v: True,
    "regex_engine": lambda v: True,
    "coerce_numbers_to_str": lambda v: True,
    "frozen": lambda v: True,
    "strict": lambda v: True,
    "ser_json_timedelta": lambda v: True,
    "ser_json_temporal": lambda v: True,
    "ser_json_bytes": lambda v: True,
    "ser_json_inf_nan": lambda v: True,
    "val_json_bytes": lambda v: True,
    "val_temporal_unit": lambda v: True,
    "extra_fields_behavior": lambda v: v == "ignore",
    "str_strip_whitespace": lambda v: not v,
    "str_to_lower": lambda v: not v,
    "str_to_upper": lambda v: not v,
    "allow_inf_nan": lambda v: v is True,
}
CONFIG_CONSTRAINTS = frozenset({"str_max_length", "str_min_length"})
MAX_DEPTH = 64  # nested models and lists in one plan; deeper goes through Pydantic
