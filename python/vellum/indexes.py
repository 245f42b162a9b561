"""Index declarations (:class:`Index`, :class:`Collation`), and keeping a collection's indexes in
step with them (:func:`ensure_indexes`, :func:`sync_indexes`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import KW_ONLY, dataclass
from typing import Any, Final, Literal

from ._index_specs import LANGUAGES, comparable, public_spec
from ._index_sync import IndexConflict, IndexSync, ensure_indexes, sync_indexes

__all__ = [
    "ASCENDING",
    "DESCENDING",
    "Collation",
    "Index",
    "IndexConflict",
    "IndexDirection",
    "IndexSync",
    "comparable",
    "ensure_indexes",
    "public_spec",
    "sync_indexes",
]

ASCENDING: Final = 1
DESCENDING: Final = -1

IndexDirection = Literal[1, -1, "text", "2dsphere", "2d", "hashed"]
"""1 or -1 (ascending, descending), or an index type: ``"text"``, ``"2dsphere"``, ``"2d"``,
``"hashed"``."""

_TYPES = ("text", "2dsphere", "2d", "hashed")
_MAX_TTL = 2**31 - 1  # MongoDB's bound for expireAfterSeconds
_MAX_WEIGHT = 99_999  # and for a text field's weight


def _check_bool(option: str, value: object) -> None:
    if not isinstance(value, bool):
        raise TypeError(f"{option} must be True or False, got {value!r}")


def _check_choice(option: str, value: object, choices: Sequence[object]) -> None:
    if value is not None and (isinstance(value, bool) or value not in choices):
        allowed = ", ".join(repr(c) for c in choices)
        raise ValueError(f"{option} must be one of {allowed}, got {value!r}")


@dataclass(frozen=True, slots=True)
class Collation:
    """A collation: how an index (or, later, a query) compares strings, by ICU locale.

    Only the options given are sent; the server fills in the locale's defaults. Names follow
    Python (``numeric_ordering``), the document sent follows MongoDB (``numericOrdering``).

    >>> Collation("fr", strength=2).document()
    {'locale': 'fr', 'strength': 2}
    """

    locale: str
    _: KW_ONLY
    strength: Literal[1, 2, 3, 4, 5] | None = None
    """1 compares base letters only, 2 also accents, 3 (the default) also case, 4 and 5 finer."""
    case_level: bool | None = None
    case_first: Literal["upper", "lower", "off"] | None = None
    numeric_ordering: bool | None = None
    """Compare digit runs as numbers ("10" after "9")."""
    alternate: Literal["non-ignorable", "shifted"] | None = None
    max_variable: Literal["punct", "space"] | None = None
    backwards: bool | None = None
    normalization: bool | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.locale, str) or not self.locale:  # pyright: ignore[reportUnnecessaryIsInstance]
            raise ValueError(
                f"a Collation needs an ICU locale such as 'fr' or 'en_US', got {self.locale!r}"
            )
        _check_choice("strength", self.strength, (1, 2, 3, 4, 5))
        _check_choice("case_first", self.case_first, ("upper", "lower", "off"))
        _check_choice("alternate", self.alternate, ("non-ignorable", "shifted"))
        _check_choice("max_variable", self.max_variable, ("punct", "space"))
        for option in ("case_level", "numeric_ordering", "backwards", "normalization"):
            value = getattr(self, option)
            if value is not None:
                _check_bool(option, value)
        if self.max_variable is not None and self.alternate != "shifted":
            raise ValueError("max_variable only applies with alternate='shifted'")
        if self.locale == "simple" and len(self.document()) > 1:
            raise ValueError("the 'simple' locale (binary comparison) takes no other option")

    def document(self) -> dict[str, Any]:
        """The collation document MongoDB takes: the locale and the options given."""
        doc: dict[str, Any] = {"locale": self.locale}
        for option, name in (
            ("case_level", "caseLevel"),
            ("case_first", "caseFirst"),
            ("strength", "strength"),
            ("numeric_ordering", "numericOrdering"),
            ("alternate", "alternate"),
            ("max_variable", "maxVariable"),
            ("backwards", "backwards"),
            ("normalization", "normalization"),
        ):
            value = getattr(self, option)
            if value is not None:
                doc[name] = value
        return doc


class Index:
    """A MongoDB index, declared in a model's ``Settings.indexes``.

    >>> Index("email", unique=True).spec()
    {'key': {'email': 1}, 'name': 'email_1', 'unique': True}
    >>> Index([("age", -1), ("name", 1)]).name
    'age_-1_name_1'

    Keys are a field name (ascending) or (field, direction) pairs; a direction is 1, -1,
    ``"text"``, ``"2dsphere"``, ``"2d"`` or ``"hashed"``. Options:

    - ``unique``, ``sparse``, ``hidden`` (kept up to date but not used by queries);
    - ``partial_filter_expression``: index only the documents that match it;
    - ``expire_after_seconds``: a TTL index (one ascending or descending field, a date);
    - ``collation``: a :class:`Collation` (not for text and 2d indexes);
    - for a text index: ``weights`` (field: 1 to 99 999), ``default_language``,
      ``language_override`` (the field naming a document's own language);
    - ``replaces``: names of existing indexes that :func:`sync_indexes` may drop although Vellum
      did not create them (an index made by hand, or renamed in the declaration).

    Every option is checked here, with an error naming it.
    """

    __slots__ = (
        "collation",
        "default_language",
        "expire_after_seconds",
        "hidden",
        "keys",
        "language_override",
        "name",
        "partial_filter_expression",
        "replaces",
        "sparse",
        "unique",
        "weights",
    )

    def __init__(
        self,
        keys: str | Sequence[tuple[str, IndexDirection]],
        *,
        name: str | None = None,
        unique: bool = False,
        sparse: bool = False,
        hidden: bool = False,
        partial_filter_expression: Mapping[str, Any] | None = None,
        expire_after_seconds: int | None = None,
        collation: Collation | None = None,
        weights: Mapping[str, int] | None = None,
        default_language: str | None = None,
        language_override: str | None = None,
        replaces: Sequence[str] = (),
    ) -> None:
        self.keys: tuple[tuple[str, IndexDirection], ...] = _checked_keys(keys)
        self.name: str = _checked_name(name, self.keys)
        for option, value in (("unique", unique), ("sparse", sparse), ("hidden", hidden)):
            _check_bool(option, value)
        self.unique = unique
        self.sparse = sparse
        self.hidden = hidden
        self.partial_filter_expression = _checked_filter(partial_filter_expression, sparse)
        self.expire_after_seconds = _checked_ttl(expire_after_seconds, self.keys)
        self.collation = _checked_collation(collation, self.keys)
        kinds = {direction for _, direction in self.keys if isinstance(direction, str)}
        if unique and "hashed" in kinds:
            raise ValueError("a hashed index cannot be unique (MongoDB cannot guarantee it)")
        self.weights, self.default_language, self.language_override = _checked_text_options(
            self.keys, weights, default_language, language_override
        )
        self.replaces: tuple[str, ...] = _checked_replaces(replaces, self.name)

    def spec(self) -> dict[str, Any]:
        """The ``createIndexes`` spec of this index."""
        spec: dict[str, Any] = {"key": dict(self.keys), "name": self.name}
        for flag in ("unique", "sparse", "hidden"):
            if getattr(self, flag):
                spec[flag] = True
        if self.partial_filter_expression is not None:
            spec["partialFilterExpression"] = self.partial_filter_expression
        if self.expire_after_seconds is not None:
            spec["expireAfterSeconds"] = self.expire_after_seconds
        if self.collation is not None:
            spec["collation"] = self.collation.document()
        if self.weights is not None:
            spec["weights"] = dict(self.weights)
        if self.default_language is not None:
            spec["default_language"] = self.default_language
        if self.language_override is not None:
            spec["language_override"] = self.language_override
        return spec

    def __repr__(self) -> str:
        replaces = f", replaces={list(self.replaces)!r}" if self.replaces else ""
        return f"Index({self.spec()!r}{replaces})"

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, Index)
            and self.spec() == other.spec()
            and self.replaces == other.replaces
        )

    def __hash__(self) -> int:
        return hash(repr(self))


# -- the checks, one per option ----------------------------------------------------------------


def _checked_keys(keys: object) -> tuple[tuple[str, IndexDirection], ...]:
    if isinstance(keys, str):
        pairs: list[Any] = [(keys, ASCENDING)]
    elif isinstance(keys, Sequence):
        pairs = list(keys)  # pyright: ignore[reportUnknownArgumentType]
    else:
        raise TypeError(f"an Index takes a field name or (field, direction) pairs, got {keys!r}")
    if not pairs:
        raise ValueError("an Index needs at least one key")
    seen: set[str] = set()
    for pair in pairs:
        if not (isinstance(pair, tuple) and len(pair) == 2):  # pyright: ignore[reportUnknownArgumentType]
            raise TypeError(
                f"an Index key is a (field, direction) pair such as ('age', -1), got {pair!r}"
            )
        field, direction = pair  # pyright: ignore[reportUnknownVariableType]
        if not isinstance(field, str) or not field:
            raise ValueError(f"an index field is a non-empty str, got {field!r}")
        if field in seen:
            raise ValueError(f"field {field!r} appears twice in the index")
        seen.add(field)
        if isinstance(direction, bool) or not isinstance(direction, (int, str)):
            raise TypeError(
                f"index direction for {field!r} must be 1, -1 or an index type such as "
                f"'text', got {direction!r}"
            )
        if isinstance(direction, int) and direction not in (1, -1):
            raise ValueError(f"index direction for {field!r} must be 1 or -1, got {direction}")
        if isinstance(direction, str) and direction not in _TYPES:
            raise ValueError(
                f"index type for {field!r} must be one of {', '.join(map(repr, _TYPES))}, got "
                f"{direction!r}"
            )
    checked: tuple[tuple[str, IndexDirection], ...] = tuple(pairs)
    _check_kinds(checked)
    return checked


def _check_kinds(keys: tuple[tuple[str, IndexDirection], ...]) -> None:
    """One index type per index, as MongoDB requires (ascending and descending fields may join
    any), one hashed field, and a text index's text fields side by side."""
    kinds = [d for _, d in keys if isinstance(d, str)]
    if len(set(kinds)) > 1:
        raise ValueError(
            f"an index has one type; this one mixes {' and '.join(sorted(set(kinds)))}"
        )
    if kinds.count("hashed") > 1:
        raise ValueError("an index has at most one hashed field")
    if kinds.count("2d") > 1:
        raise ValueError("an index has at most one 2d field")
    text = [i for i, (_, d) in enumerate(keys) if d == "text"]
    if text and text != list(range(text[0], text[0] + len(text))):
        raise ValueError(
            "the text fields of an index must be side by side (ascending or descending fields "
            "may come before and after them)"
        )


def _checked_name(name: object, keys: tuple[tuple[str, IndexDirection], ...]) -> str:
    if name is None:
        return "_".join(f"{field}_{direction}" for field, direction in keys)
    if not isinstance(name, str) or not name or name == "*":
        raise ValueError(f"an index name is a non-empty str other than '*', got {name!r}")
    return name


def _checked_filter(expression: object, sparse: bool) -> dict[str, Any] | None:
    if expression is None:
        return None
    if not isinstance(expression, Mapping):
        raise TypeError(
            f"partial_filter_expression is a filter document such as "
            f"{{'age': {{'$gte': 18}}}}, got {expression!r}"
        )
    if sparse:
        raise ValueError(
            "an index is sparse or partial, not both (a partial_filter_expression with "
            "{field: {'$exists': True}} does what sparse does)"
        )
    return dict(expression)  # pyright: ignore[reportUnknownArgumentType]


def _checked_ttl(seconds: object, keys: tuple[tuple[str, IndexDirection], ...]) -> int | None:
    if seconds is None:
        return None
    if isinstance(seconds, bool) or not isinstance(seconds, int):
        raise TypeError(f"expire_after_seconds is a whole number of seconds, got {seconds!r}")
    if not 0 <= seconds <= _MAX_TTL:
        raise ValueError(f"expire_after_seconds must be between 0 and {_MAX_TTL}, got {seconds}")
    if len(keys) != 1 or keys[0][1] not in (1, -1) or keys[0][0] == "_id":
        raise ValueError(
            "a TTL index (expire_after_seconds) has one ascending or descending field, a date, "
            f"other than _id; got {dict(keys)}"
        )
    return seconds


def _checked_collation(
    collation: object, keys: tuple[tuple[str, IndexDirection], ...]
) -> Collation | None:
    if collation is None:
        return None
    if not isinstance(collation, Collation):
        raise TypeError(
            f"collation takes a vellum.Collation, such as Collation('fr', strength=2), got "
            f"{collation!r}"
        )
    kinds = {d for _, d in keys} & {"text", "2d"}
    if kinds:
        raise ValueError(f"a {kinds.pop()} index compares strings as bytes: it takes no collation")
    return collation


def _checked_text_options(
    keys: tuple[tuple[str, IndexDirection], ...],
    weights: object,
    default_language: object,
    language_override: object,
) -> tuple[dict[str, int] | None, str | None, str | None]:
    given = [
        option
        for option, value in (
            ("weights", weights),
            ("default_language", default_language),
            ("language_override", language_override),
        )
        if value is not None
    ]
    text_fields = [field for field, d in keys if d == "text"]
    if not text_fields:
        if given:
            raise ValueError(f"{', '.join(given)} only apply to a text index")
        return None, None, None
    checked: dict[str, int] | None = None
    if weights is not None:
        if not isinstance(weights, Mapping):
            raise TypeError(f"weights maps text fields to weights, got {weights!r}")
        checked = {}
        for field, weight in weights.items():  # pyright: ignore[reportUnknownVariableType]
            if "$**" not in text_fields and field not in text_fields:
                raise ValueError(
                    f"weights names {field!r}, which is not a text field of the index "
                    f"({', '.join(text_fields)})"
                )
            if isinstance(weight, bool) or not isinstance(weight, int):
                raise TypeError(f"the weight of {field!r} is a whole number, got {weight!r}")
            if not 1 <= weight <= _MAX_WEIGHT:
                raise ValueError(
                    f"the weight of {field!r} must be between 1 and {_MAX_WEIGHT}, got {weight}"
                )
            checked[str(field)] = weight  # pyright: ignore[reportUnknownArgumentType]
    if default_language is not None and (
        not isinstance(default_language, str)
        or (default_language not in LANGUAGES and default_language not in LANGUAGES.values())
    ):
        raise ValueError(
            f"default_language must be one of MongoDB's text search languages "
            f"({', '.join(sorted(set(LANGUAGES.values())))}) or their codes "
            f"({', '.join(sorted(LANGUAGES))}), got {default_language!r}"
        )
    if language_override is not None and (
        not isinstance(language_override, str) or not language_override
    ):
        raise ValueError(
            f"language_override names the field that holds a document's language, got "
            f"{language_override!r}"
        )
    return checked, default_language, language_override


def _checked_replaces(replaces: object, name: str) -> tuple[str, ...]:
    if isinstance(replaces, str) or not isinstance(replaces, Sequence):
        raise TypeError(f"replaces takes a list of index names, got {replaces!r}")
    names: list[str] = []
    for old in replaces:  # pyright: ignore[reportUnknownVariableType]
        if not isinstance(old, str) or not old:
            raise ValueError(f"replaces takes index names, got {old!r}")
        if old == "_id_":
            raise ValueError("the _id_ index is never dropped: it cannot be replaced")
        if old == name:
            raise ValueError(
                f"index {name!r} cannot replace itself: an index of its name, other options, is "
                "replaced anyway"
            )
        names.append(old)
    return tuple(names)
