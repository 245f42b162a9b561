"""Stub of Vellum's native core (``vellum._core``). Users import from ``vellum``."""

import re
from collections.abc import Awaitable, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, Generic, final

from pydantic import BaseModel, GetCoreSchemaHandler
from pydantic_core import CoreSchema
from typing_extensions import TypeVar

# The model a filter or an update is for, to a type checker only: the classes are not generic at
# run time. ``QueryExpr`` alone is ``QueryExpr[Any]``, which any model's methods accept; the
# typed fields of ``vellum typegen`` build ``QueryExpr[Book]``, which only Book's accept.
_M = TypeVar("_M", default=Any)

__version__: str

@final
class QueryExpr(Generic[_M]):
    """A query expression built from ``Model.Q``; combine with ``&``, ``|``, ``~``."""

    @staticmethod
    def compare(
        path: str, op: str, value: object, lookups: Sequence[_Lookup] | None = None
    ) -> QueryExpr: ...
    @staticmethod
    def regex(
        path: str, pattern: str, options: str = ..., lookups: Sequence[_Lookup] | None = None
    ) -> QueryExpr: ...
    @staticmethod
    def elem_match(
        path: str, inner: QueryExpr, lookups: Sequence[_Lookup] | None = None
    ) -> QueryExpr: ...
    @staticmethod
    def geo(
        path: str,
        op: str,
        geometry: object,
        max_distance: float | None = None,
        min_distance: float | None = None,
        lookups: Sequence[_Lookup] | None = None,
    ) -> QueryExpr: ...
    @staticmethod
    def text(
        search: str,
        language: str | None = None,
        case_sensitive: bool | None = None,
        diacritic_sensitive: bool | None = None,
    ) -> QueryExpr: ...
    @staticmethod
    def fields(left: str, op: str, right: str) -> QueryExpr: ...
    @staticmethod
    def all_of(items: Iterable[QueryExpr]) -> QueryExpr: ...
    @staticmethod
    def any_of(items: Iterable[QueryExpr]) -> QueryExpr: ...
    @staticmethod
    def none_of(items: Iterable[QueryExpr]) -> QueryExpr: ...
    @staticmethod
    def raw(filter: Mapping[str, Any]) -> QueryExpr: ...
    def to_filter(self) -> _Document: ...
    @property
    def needs_lookup(self) -> bool:
        """Whether the expression reads fields of linked documents (it runs as an
        aggregation)."""
    def lookup_pipeline(self) -> Pipeline:
        """The ``$lookup`` stages, the ``$match`` and the looked-up fields removed again."""
    def __and__(self, other: QueryExpr[_M]) -> QueryExpr[_M]: ...
    def __or__(self, other: QueryExpr[_M]) -> QueryExpr[_M]: ...
    def __invert__(self) -> QueryExpr[_M]: ...
    def __eq__(self, other: object) -> bool: ...
    def __bool__(self) -> bool: ...

@final
class Pipeline:
    """An immutable aggregation stage list held in the core."""

    def __new__(cls) -> Pipeline: ...
    def with_stage(self, name: str, spec: object) -> Pipeline: ...
    def with_raw_stage(self, stage: Mapping[str, Any]) -> Pipeline: ...
    @property
    def stages(self) -> list[dict[str, Any]]: ...
    def __len__(self) -> int: ...

@final
class UpdateSpec(Generic[_M]):
    """Field updates built from ``Model.Q`` (``User.Q.age.inc(1)``)."""

    def __new__(cls, operator: str, path: str, value: object) -> UpdateSpec: ...
    @staticmethod
    def combine(specs: list[UpdateSpec]) -> UpdateSpec: ...
    def to_update(self) -> _Document: ...
    def touches(self, path: str) -> bool: ...

_Document = dict[str, Any]
_Lookup = tuple[str, str, str, Mapping[str, Any] | None]
_Filter = Mapping[str, Any] | QueryExpr
_UpdateSpec = Mapping[str, Any] | list[Mapping[str, Any]] | UpdateSpec

@final
class ObjectId:
    """A MongoDB ObjectId: 12 bytes, ordered, hashable, immutable."""

    def __new__(cls, oid: str | bytes | ObjectId | None = None) -> ObjectId: ...
    @staticmethod
    def is_valid(value: object) -> bool: ...
    @property
    def binary(self) -> bytes: ...
    @property
    def generation_time(self) -> datetime: ...
    def __lt__(self, other: ObjectId) -> bool: ...
    def __le__(self, other: ObjectId) -> bool: ...
    def __gt__(self, other: ObjectId) -> bool: ...
    def __ge__(self, other: ObjectId) -> bool: ...
    def __hash__(self) -> int: ...
    def __reduce__(self) -> tuple[type[ObjectId], tuple[str]]: ...
    def __copy__(self) -> ObjectId: ...
    def __deepcopy__(self, memo: object) -> ObjectId: ...
    @classmethod
    def __get_pydantic_core_schema__(
        cls, source: object, handler: GetCoreSchemaHandler
    ) -> CoreSchema: ...

@final
class Binary:
    """BSON binary data of a subtype other than 0 (bytes) and 4 (UUID)."""

    def __new__(cls, data: bytes, subtype: int = 0) -> Binary: ...
    @property
    def data(self) -> bytes: ...
    @property
    def subtype(self) -> int: ...
    def __hash__(self) -> int: ...
    def __reduce__(self) -> tuple[type[Binary], tuple[bytes, int]]: ...

@final
class Timestamp:
    """A BSON timestamp (seconds since the epoch, ordinal)."""

    def __new__(cls, time: int, inc: int) -> Timestamp: ...
    @property
    def time(self) -> int: ...
    @property
    def inc(self) -> int: ...
    def __lt__(self, other: Timestamp) -> bool: ...
    def __le__(self, other: Timestamp) -> bool: ...
    def __gt__(self, other: Timestamp) -> bool: ...
    def __ge__(self, other: Timestamp) -> bool: ...
    def __hash__(self) -> int: ...
    def __reduce__(self) -> tuple[type[Timestamp], tuple[int, int]]: ...

@final
class Code:
    """BSON JavaScript code (deprecated), with its scope if it has one; never run."""

    def __new__(cls, code: str, scope: Mapping[str, Any] | None = None) -> Code: ...
    @property
    def code(self) -> str: ...
    @property
    def scope(self) -> dict[str, Any] | None: ...
    def __eq__(self, other: object) -> bool: ...
    def __hash__(self) -> int: ...
    def __reduce__(self) -> tuple[type[Code], tuple[str, dict[str, Any] | None]]: ...

@final
class DBPointer:
    """A BSON DBPointer (deprecated; DBRef replaced it): a namespace and an ObjectId."""

    def __new__(cls, namespace: str, id: ObjectId | str | bytes) -> DBPointer: ...
    @property
    def namespace(self) -> str: ...
    @property
    def id(self) -> ObjectId: ...
    def __eq__(self, other: object) -> bool: ...
    def __hash__(self) -> int: ...
    def __reduce__(self) -> tuple[type[DBPointer], tuple[str, str]]: ...

@final
class DatetimeMS:
    """A BSON datetime as milliseconds since the epoch: any value MongoDB stores."""

    def __new__(cls, millis: int) -> DatetimeMS: ...
    @property
    def millis(self) -> int: ...
    def to_datetime(self) -> datetime: ...
    def __int__(self) -> int: ...
    def __lt__(self, other: DatetimeMS) -> bool: ...
    def __le__(self, other: DatetimeMS) -> bool: ...
    def __gt__(self, other: DatetimeMS) -> bool: ...
    def __ge__(self, other: DatetimeMS) -> bool: ...
    def __hash__(self) -> int: ...
    def __reduce__(self) -> tuple[type[DatetimeMS], tuple[int]]: ...
    @classmethod
    def __get_pydantic_core_schema__(
        cls, source: object, handler: GetCoreSchemaHandler
    ) -> CoreSchema: ...

@final
class Regex:
    """A BSON regular expression, stored and read back exactly (pattern and options)."""

    def __new__(cls, pattern: str, flags: str = "") -> Regex: ...
    @property
    def pattern(self) -> str: ...
    @property
    def flags(self) -> str: ...
    def compile(self) -> re.Pattern[str]: ...
    @staticmethod
    def from_pattern(pattern: re.Pattern[str]) -> Regex: ...
    def __eq__(self, other: object) -> bool: ...
    def __hash__(self) -> int: ...
    def __reduce__(self) -> tuple[type[Regex], tuple[str, str]]: ...
    @classmethod
    def __get_pydantic_core_schema__(
        cls, source: object, handler: GetCoreSchemaHandler
    ) -> CoreSchema: ...

@final
class MinKey:
    """Compares below every other BSON value."""

    def __new__(cls) -> MinKey: ...
    def __lt__(self, other: object) -> bool: ...
    def __le__(self, other: object) -> bool: ...
    def __gt__(self, other: object) -> bool: ...
    def __ge__(self, other: object) -> bool: ...
    def __hash__(self) -> int: ...
    def __reduce__(self) -> tuple[type[MinKey], tuple[()]]: ...

@final
class MaxKey:
    """Compares above every other BSON value."""

    def __new__(cls) -> MaxKey: ...
    def __lt__(self, other: object) -> bool: ...
    def __le__(self, other: object) -> bool: ...
    def __gt__(self, other: object) -> bool: ...
    def __ge__(self, other: object) -> bool: ...
    def __hash__(self) -> int: ...
    def __reduce__(self) -> tuple[type[MaxKey], tuple[()]]: ...

def encode_bson(document: Mapping[str, Any]) -> bytes: ...
def decode_bson(data: bytes, *, plan: ModelPlan | None = None) -> _Document | Any: ...
def bridge_overhead_probe() -> Awaitable[None]: ...
def panic_probe(at: str) -> Awaitable[None]:
    """For tests: an await whose operation (``"operation"``) or result conversion
    (``"conversion"``) panics in the core; it raises ``VellumError``."""

@final
class Client:
    @staticmethod
    def connect(
        uri: str,
        *,
        app_name: str | None = None,
        server_selection_timeout_ms: int | None = None,
        count_commands: bool = False,
    ) -> Awaitable[Client]:
        """Connects and checks that the server answers. With ``count_commands``, counts the
        commands it sends by name (see ``command_counts``)."""
    @property
    def uri(self) -> str: ...
    @property
    def transactions(self) -> bool:
        """Whether the deployment runs transactions, from its ``hello`` at connect time."""
    @property
    def closed(self) -> bool: ...
    @property
    def timeout_ms(self) -> int | None: ...
    def collection(self, database: str, name: str) -> Collection: ...
    def command(self, database: str, command: Mapping[str, Any]) -> Awaitable[_Document]: ...
    def list_collection_names(self, database: str) -> Awaitable[list[str]]: ...
    def drop_database(self, database: str) -> Awaitable[None]: ...
    def start_session(self, *, causal_consistency: bool | None = None) -> Awaitable[Session]: ...
    def close(self) -> Awaitable[None]: ...
    def command_counts(self) -> dict[str, int]:
        """How many commands of each name this client sent since it connected or since the last
        ``reset_command_counts()`` (a copy). Raises ``ConfigurationError`` unless it was
        connected with ``count_commands=True``."""
    def reset_command_counts(self) -> None:
        """Sets every command count back to zero."""

@final
class Session:
    @property
    def in_transaction(self) -> bool: ...
    @property
    def ended(self) -> bool: ...
    def start_transaction(
        self,
        *,
        read_concern: str | None = None,
        w: int | str | None = None,
        journal: bool | None = None,
        wtimeout_ms: int | None = None,
        read_preference: str | None = None,
        max_commit_time_ms: int | None = None,
    ) -> Awaitable[None]: ...
    def commit_transaction(self) -> Awaitable[None]: ...
    def abort_transaction(self) -> Awaitable[None]: ...
    def end(self) -> Awaitable[None]: ...

@final
class BulkOutcome:
    """What ``Collection.write_statements`` did."""

    @property
    def matched(self) -> int: ...
    @property
    def modified(self) -> int: ...
    @property
    def deleted(self) -> int: ...
    @property
    def upserted(self) -> list[tuple[int, Any]]: ...
    @property
    def error(self) -> BaseException | None: ...
    @property
    def failed_index(self) -> int | None: ...

@final
class UpdateOutcome:
    """What ``update_one``/``update_many`` did."""

    @property
    def matched(self) -> int: ...
    @property
    def modified(self) -> int: ...
    @property
    def upserted_id(self) -> Any: ...

@final
class VersionedOutcome:
    """What a versioned update did: the stored document after it, or, when nothing was
    written, whether the document exists and its current version."""

    @property
    def document(self) -> _Document | None: ...
    @property
    def exists(self) -> bool: ...
    @property
    def current_version(self) -> int | None: ...

@final
class ModelPlan:
    """How the core reads a model's documents: it builds instances from documents whose every
    field has exactly the planned BSON type and meets the planned checks, and decodes only the
    top-level ``keys`` validation reads; made by ``vellum._plans``. ``fields`` holds
    ``(stored_key, attribute, (kind, nullable, inner, checks))`` tuples; ``builds=False`` only
    selects keys."""

    def __new__(
        cls,
        model: type,
        fields: list[tuple[str, str, tuple[str, bool, Any, dict[str, Any] | None]]],
        *,
        keys: set[str] | frozenset[str] | None = None,
        builds: bool = True,
    ) -> ModelPlan: ...
    @property
    def builds(self) -> bool: ...

@final
class Collection:
    @property
    def name(self) -> str: ...
    @property
    def database(self) -> str: ...
    def insert_one(
        self,
        document: Mapping[str, Any] | BaseModel,
        *,
        session: Session | None = None,
        plan: ModelPlan | None = None,
    ) -> Awaitable[None]: ...
    def insert_many(
        self,
        documents: Iterable[Mapping[str, Any] | BaseModel],
        *,
        ordered: bool = True,
        session: Session | None = None,
        plan: ModelPlan | None = None,
    ) -> Awaitable[int]: ...
    def find(
        self,
        filter: _Filter,
        *,
        sort: Mapping[str, Any] | None = None,
        skip: int | None = None,
        limit: int | None = None,
        projection: Mapping[str, Any] | None = None,
        batch_size: int | None = None,
        session: Session | None = None,
        plan: ModelPlan | None = None,
    ) -> Awaitable[list[_Document | Any]]: ...
    def find_cursor(
        self,
        filter: _Filter,
        *,
        sort: Mapping[str, Any] | None = None,
        skip: int | None = None,
        limit: int | None = None,
        projection: Mapping[str, Any] | None = None,
        batch_size: int | None = None,
        session: Session | None = None,
        plan: ModelPlan | None = None,
    ) -> Awaitable[Cursor]: ...
    def find_one(
        self,
        filter: _Filter,
        *,
        sort: Mapping[str, Any] | None = None,
        skip: int | None = None,
        projection: Mapping[str, Any] | None = None,
        session: Session | None = None,
        plan: ModelPlan | None = None,
    ) -> Awaitable[_Document | Any | None]: ...
    def replace_many(
        self,
        documents: Iterable[Mapping[str, Any] | BaseModel],
        *,
        filters: Sequence[_Filter] | None = None,
        plan: ModelPlan | None = None,
        session: Session | None = None,
        ordered: bool = False,
    ) -> Awaitable[UpdateOutcome]:
        """Replaces each document by its ``_id``, ANDed with its filter in ``filters`` when
        given (one per document, such as ``{"schema_version": 1}``), in as few ``update``
        commands as the server's limits allow (100 000 statements, 16 MiB a command). Models
        are encoded by ``plan`` as ``insert_many`` encodes them; nothing is sent when one
        raises ``UnvouchedDocumentError``, lacks an ``_id``, holds a top-level ``$`` key or is
        over 16 MiB. Unordered, every command is sent and the first write error is raised at
        the end (``DuplicateKeyError``...). Returns the totals of every command: ``matched``
        and ``modified`` (``upserted_id`` is None)."""
        ...
    def update_one(
        self,
        filter: _Filter,
        update: _UpdateSpec,
        *,
        upsert: bool = False,
        session: Session | None = None,
    ) -> Awaitable[UpdateOutcome]: ...
    def update_many(
        self,
        filter: _Filter,
        update: _UpdateSpec,
        *,
        upsert: bool = False,
        session: Session | None = None,
    ) -> Awaitable[UpdateOutcome]: ...
    def write_statements(
        self,
        verb: str,
        statements: Iterable[tuple[Any, ...]],
        *,
        ordered: bool = True,
        session: Session | None = None,
    ) -> Awaitable[BulkOutcome]: ...
    def find_one_and_update(
        self,
        filter: _Filter,
        update: _UpdateSpec,
        *,
        sort: Mapping[str, Any] | None = None,
        projection: Mapping[str, Any] | None = None,
        upsert: bool = False,
        return_after: bool = True,
        session: Session | None = None,
        plan: ModelPlan | None = None,
    ) -> Awaitable[_Document | Any | None]: ...
    def versioned_update(
        self,
        filter: _Filter,
        changes: Mapping[str, Any],
        expected_version: int | None,
        *,
        version: str,
        session: Session | None = None,
    ) -> Awaitable[VersionedOutcome]: ...
    def delete_one(self, filter: _Filter, *, session: Session | None = None) -> Awaitable[int]: ...
    def delete_many(self, filter: _Filter, *, session: Session | None = None) -> Awaitable[int]: ...
    def count_documents(
        self,
        filter: _Filter,
        *,
        skip: int | None = None,
        limit: int | None = None,
        session: Session | None = None,
    ) -> Awaitable[int]: ...
    def aggregate(
        self,
        pipeline: Sequence[Mapping[str, Any]] | Pipeline,
        *,
        batch_size: int | None = None,
        allow_disk_use: bool | None = None,
        session: Session | None = None,
        plan: ModelPlan | None = None,
    ) -> Awaitable[list[_Document | Any]]: ...
    def aggregate_cursor(
        self,
        pipeline: Sequence[Mapping[str, Any]] | Pipeline,
        *,
        batch_size: int | None = None,
        allow_disk_use: bool | None = None,
        session: Session | None = None,
        plan: ModelPlan | None = None,
    ) -> Awaitable[Cursor]: ...
    def create_indexes(
        self, specs: list[Mapping[str, Any]], *, session: Session | None = None
    ) -> Awaitable[None]: ...
    def list_indexes(self, *, session: Session | None = None) -> Awaitable[list[_Document]]: ...
    def drop_index(self, name: str, *, session: Session | None = None) -> Awaitable[None]: ...
    def drop_indexes(self, *, session: Session | None = None) -> Awaitable[None]: ...
    def drop(self, *, session: Session | None = None) -> Awaitable[None]: ...

@final
class Cursor:
    def next_batch(self) -> Awaitable[list[_Document | Any]]: ...
    def close(self) -> Awaitable[None]: ...
