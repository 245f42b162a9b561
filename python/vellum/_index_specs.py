"""Index specs as the server lists them, and the rules by which a listing and a declaration
define the same index.

Servers list an index differently from how it was declared, and differently from each other:

- a number may come back as ``1.0`` or ``Int64(1)``;
- ``unique``, ``sparse`` and ``hidden`` may be listed as ``False`` or left out;
- MongoDB lists a text index's key as ``{_fts: "text", _ftsx: 1}`` (non-text fields kept in
  place before and after) and its ``weights`` with every text field (1 when not declared), its
  ``default_language`` (``"english"``) and ``language_override`` (``"language"``) even when not
  declared, and ``textIndexVersion``;
- a collation is listed with every option, the locale's defaults filled in (``backwards: true``
  for ``fr_CA``, ``caseFirst: "upper"`` for ``da``...) and the ICU ``version``;
- ``v``, ``ns``, ``textIndexVersion``, ``2dsphereIndexVersion`` are bookkeeping.

:func:`comparable` normalises all of these. For collations :func:`differences` compares only the
options the declaration sets (the server's value of an option left out is its locale's
default, which Vellum cannot know), and never ``version``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["LANGUAGES", "comparable", "differences", "public_spec", "same_slot"]

_FLAGS = ("unique", "sparse", "hidden")
"""Options that are false unless set: a listing may say ``False`` or leave them out."""

_TEXT_OPTIONS = ("weights", "default_language", "language_override")

LANGUAGES = {
    "da": "danish",
    "nl": "dutch",
    "en": "english",
    "fi": "finnish",
    "fr": "french",
    "de": "german",
    "hu": "hungarian",
    "it": "italian",
    "nb": "norwegian",
    "pt": "portuguese",
    "ro": "romanian",
    "ru": "russian",
    "es": "spanish",
    "sv": "swedish",
    "tr": "turkish",
    "none": "none",
}
"""The languages of MongoDB's text search, by the code MongoDB also accepts: each as its name."""

_TEXT_KEY = [("_fts", "text"), ("_ftsx", 1)]


def _number(value: Any) -> Any:
    """1.0 and Int64(1) as 1 (a listing's numbers are compared as numbers)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return value
    if isinstance(value, float) and not value.is_integer():
        return value
    return int(value)


def public_spec(spec: Mapping[str, Any]) -> dict[str, Any]:
    """An index as the server lists it, without its bookkeeping options: ``name``, ``key`` as
    (field, direction) pairs, and the options that define it (flags only when set)."""
    out: dict[str, Any] = {
        "name": spec.get("name"),
        "key": [(str(field), _number(d)) for field, d in dict(spec.get("key") or {}).items()],
    }
    for flag in _FLAGS:
        if spec.get(flag):
            out[flag] = True
    if spec.get("partialFilterExpression") is not None:
        out["partialFilterExpression"] = dict(spec["partialFilterExpression"])
    if spec.get("expireAfterSeconds") is not None:
        out["expireAfterSeconds"] = _number(spec["expireAfterSeconds"])
    if spec.get("collation") is not None:
        out["collation"] = dict(spec["collation"])
    if spec.get("weights") is not None:
        out["weights"] = {str(f): _number(w) for f, w in dict(spec["weights"]).items()}
    for option in ("default_language", "language_override"):
        if spec.get(option) is not None:
            out[option] = spec[option]
    return out


def _text_fields(key: list[tuple[str, Any]]) -> list[str]:
    """A declared text index's text fields (none for a key listed as ``_fts``/``_ftsx``)."""
    if _TEXT_KEY[0] in key:
        return []
    return [field for field, direction in key if direction == "text"]


def _server_key(key: list[tuple[str, Any]]) -> list[tuple[str, Any]]:
    """A key as MongoDB stores it: a text index's text fields become ``_fts``/``_ftsx`` where
    the first of them was (a listing in that form already is left as it is)."""
    if not _text_fields(key):
        return key
    out: list[tuple[str, Any]] = []
    for field, direction in key:
        if direction != "text":
            out.append((field, direction))
        elif _TEXT_KEY[0] not in out:
            out.extend(_TEXT_KEY)
    return out


def comparable(spec: Mapping[str, Any]) -> dict[str, Any]:
    """The parts of an index spec that define it, normalised so that a server's listing and a
    declaration of the same index give the same dict (but see :func:`differences` for
    collations)."""
    out = public_spec(spec)
    del out["name"]
    key: list[tuple[str, Any]] = out["key"]
    out["key"] = _server_key(key)
    if _TEXT_KEY[0] in out["key"]:
        weights = dict.fromkeys(_text_fields(key), 1)
        weights.update(out.get("weights", {}))
        out["weights"] = weights
        language = str(out.get("default_language", "english"))
        out["default_language"] = LANGUAGES.get(language, language)
        out.setdefault("language_override", "language")
    else:
        for option in _TEXT_OPTIONS:
            out.pop(option, None)
    collation = out.pop("collation", None)
    if collation is not None and collation.get("locale") != "simple":
        out["collation"] = {k: _number(v) for k, v in collation.items() if k != "version"}
    return out


def differences(declared: Mapping[str, Any], existing: Mapping[str, Any]) -> list[str]:
    """The options (``key``, ``unique``, ``collation``...) in which a listed index differs
    from a declared one, ``name`` not included. Of a collation, only the options the
    declaration sets are compared."""
    want, have = comparable(declared), comparable(existing)
    if "collation" in want and "collation" in have:
        have["collation"] = {k: v for k, v in have["collation"].items() if k in want["collation"]}
    return sorted(
        option for option in want.keys() | have.keys() if want.get(option) != have.get(option)
    )


def same_slot(declared: Mapping[str, Any], existing: Mapping[str, Any]) -> bool:
    """Whether MongoDB would take ``existing`` for the declared index under another name or with
    other options (and so refuse to create the declared one beside it): the same key, the same
    collation and the same partial filter. Indexes that differ in one of those can coexist."""
    return not {"key", "collation", "partialFilterExpression"} & set(
        differences(declared, existing)
    )
