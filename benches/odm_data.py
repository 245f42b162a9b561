"""The data sets of MongoDB's ODM benchmark, and the shapes the models are defined from.

The specification (mongodb/specifications, source/benchmarking/odm-benchmarking.md) ships
three JSON documents in source/benchmarking/odm-data/: `flat_models.tgz` holds
`flat-models/small_doc.json` (13 fields: seven strings, then six integers) and
`flat-models/large_doc.json` (125 strings, 125 integers and `image_field`, a 2.4 MB PNG written
as an Extended JSON `$binary`); `nested_models.tgz` holds `nested-models/large_doc_nested.json`
(five embedded documents of 15 strings, an array of two such documents, seven embedded
documents of 15 integers). They are not in this repository: point `--odm-data` (or
`VELLUM_ODM_DATA`) at that `odm-data` directory, or at the folders the archives unpack to.
Without one, documents of the same shape are generated here (same field names, types and
lengths, random values), and the report says so.

A task's score counts the size of its JSON file (or of the generated JSON) per operation, as
the specification does; the update tasks count the 13 bytes of the string `updated_value`.
"""

from __future__ import annotations

import base64
import json
import os
import random
import string
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

UPDATED_VALUE = "updated_value"
"""What the update tasks write into `field1` (its 13 bytes are what they score)."""

SMALL, LARGE, NESTED = "small", "large", "nested"
FILES = {
    SMALL: ("flat_models.tgz", "flat-models", "small_doc.json"),
    LARGE: ("flat_models.tgz", "flat-models", "large_doc.json"),
    NESTED: ("nested_models.tgz", "nested-models", "large_doc_nested.json"),
}

# -- the shapes (field name -> "str" | "int" | "bytes" | an embedded shape name) ------------

EMBEDDED_FIELDS = [f"field{i}" for i in range(1, 16)]
SMALL_SHAPE = {f"field{i}": "str" if i <= 7 else "int" for i in range(1, 14)}
LARGE_SHAPE = {f"field{i}": "str" if i <= 125 else "int" for i in range(1, 251)} | {
    "image_field": "bytes"
}
NESTED_SHAPE = {
    **{f"embedded_str_doc_{i}": "str_doc" for i in range(1, 6)},
    "embedded_str_doc_array": "str_doc_list",
    **{f"embedded_int_doc_{i}": "int_doc" for i in range(8, 15)},
}
SHAPES = {SMALL: SMALL_SHAPE, LARGE: LARGE_SHAPE, NESTED: NESTED_SHAPE}


def is_str_doc(field: str) -> bool:
    """Whether a nested field holds string documents (which get a generated `unique_id`)."""
    return NESTED_SHAPE[field] in ("str_doc", "str_doc_list")


@dataclass(frozen=True)
class Dataset:
    name: str
    document: dict[str, Any]
    """The document as the models take it (`image_field` as bytes)."""
    json_bytes: int
    """The size of its JSON, which each operation of a task scores."""


@dataclass(frozen=True)
class Datasets:
    small: Dataset
    large: Dataset
    nested: Dataset
    origin: str

    def sizes(self) -> dict[str, int]:
        return {d.name: d.json_bytes for d in (self.small, self.large, self.nested)}


# -- loading ---------------------------------------------------------------------------------


def _from_json(text: bytes) -> dict[str, Any]:
    """Strict JSON, but for `{"$binary": {"base64", "subType"}}`, which becomes bytes."""

    def binary(obj: dict[str, Any]) -> Any:
        value = obj.get("$binary")
        if isinstance(value, dict) and set(value) == {"base64", "subType"}:
            return base64.b64decode(value["base64"])
        return obj

    return json.loads(text, object_hook=binary)


def _read(folder: Path, name: str) -> bytes | None:
    archive, directory, filename = FILES[name]
    for candidate in (folder / directory, folder / directory.replace("-", "_"), folder):
        if (candidate / filename).is_file():
            return (candidate / filename).read_bytes()
    if (folder / archive).is_file():
        with tarfile.open(folder / archive) as tar:
            member = tar.extractfile(f"{directory}/{filename}")
            return member.read() if member else None
    return None


def check_shape(name: str, document: dict[str, Any]) -> None:
    """Raises if `document` is not of the data set's shape (the models are defined from it)."""
    shape = SHAPES[name]
    if list(document) != list(shape):
        raise ValueError(f"{name}: fields {list(document)[:5]}... are not {list(shape)[:5]}...")
    simple = {"str": str, "int": int, "bytes": bytes}
    for field, kind in shape.items():
        value = document[field]
        if kind in simple:
            ok = type(value) is simple[kind]
        elif kind == "str_doc_list":
            ok = isinstance(value, list) and all(_embedded_ok(v, str) for v in value)
        else:
            ok = _embedded_ok(value, str if kind == "str_doc" else int)
        if not ok:
            raise ValueError(f"{name}: {field} is not a {kind}: {str(value)[:60]}")


def _embedded_ok(value: Any, kind: type) -> bool:
    return (
        isinstance(value, dict)
        and list(value) == EMBEDDED_FIELDS
        and all(type(v) is kind for v in value.values())
    )


def load(source: str | os.PathLike[str] | None = None) -> Datasets:
    """The specification's data sets from `source` (or `VELLUM_ODM_DATA`), else generated ones
    of the same shape."""
    source = source or os.environ.get("VELLUM_ODM_DATA")
    if not source:
        return generate()
    folder = Path(source)
    loaded: dict[str, Dataset] = {}
    for name in FILES:
        text = _read(folder, name)
        if text is None:
            raise SystemExit(f"no {FILES[name][2]} under {folder} (nor {FILES[name][0]})")
        document = _from_json(text)
        check_shape(name, document)
        loaded[name] = Dataset(name, document, len(text))
    return Datasets(**loaded, origin=f"the specification's files, from {folder}")


# -- generating ------------------------------------------------------------------------------

_ALPHABET = string.ascii_lowercase + string.digits + "$#@*&"
_IMAGE_BYTES = 2_413_217  # the size of the specification's PNG


def generate(seed: int = 0x0D3) -> Datasets:
    """Documents of the specification's shapes, field lengths and value ranges, with random
    values (the image is random bytes of the PNG's size), written as the specification's files
    are (the small one on one line, the others indented by two) to size them."""
    rng = random.Random(seed)

    def text(length: int) -> str:
        return "".join(rng.choice(_ALPHABET) for _ in range(length))

    def str_doc() -> dict[str, str]:
        return {field: text(30) for field in EMBEDDED_FIELDS}

    small: dict[str, Any] = {}
    for field, kind in SMALL_SHAPE.items():
        small[field] = text(8) if kind == "str" else rng.randrange(10**6, 10**8)
    large: dict[str, Any] = {}
    for field, kind in LARGE_SHAPE.items():
        if kind == "str":
            large[field] = text(30)
        elif kind == "int":
            large[field] = rng.randrange(10, 1000)
        else:
            large[field] = rng.randbytes(_IMAGE_BYTES)
    nested: dict[str, Any] = {}
    for field, kind in NESTED_SHAPE.items():
        if kind == "str_doc":
            nested[field] = str_doc()
        elif kind == "str_doc_list":
            nested[field] = [str_doc(), str_doc()]
        else:
            nested[field] = {f: rng.randrange(10, 1000) for f in EMBEDDED_FIELDS}

    def size(document: dict[str, Any], indent: int | None) -> int:
        def extended(value: Any) -> Any:
            if isinstance(value, bytes):
                return {"$binary": {"base64": base64.b64encode(value).decode(), "subType": "00"}}
            raise TypeError(type(value))

        separators = (",", ":") if indent is None else None
        dumped = json.dumps(document, indent=indent, separators=separators, default=extended)
        return len(dumped.encode())

    return Datasets(
        Dataset(SMALL, small, size(small, None)),
        Dataset(LARGE, large, size(large, 2)),
        Dataset(NESTED, nested, size(nested, 2)),
        origin="generated here (the specification's files were not given: --odm-data)",
    )
