"""Vellum: an async MongoDB ODM for Pydantic v2 with a Rust core."""

from ._core import (
    Binary,
    MaxKey,
    MinKey,
    ObjectId,
    Timestamp,
    __version__,
    decode_bson,
    encode_bson,
)
from .client import VellumClient, connect_to_mongodb, init_db_client
from .errors import (
    AuthenticationError,
    ClientClosedError,
    ConfigurationError,
    ConnectionError,
    DocumentValidationError,
    DuplicateKeyError,
    IndexConflictError,
    OperationFailure,
    QueryError,
    ServerSelectionTimeoutError,
    UnsupportedTypeError,
    ValueOutOfRangeError,
    VellumError,
)
from .indexes import ASCENDING, DESCENDING, Index
from .model import VellumBaseModel
from .query import QField, QueryExpr, QueryProxy, SortKey, UpdateSpec, nor, raw
from .repository import Filter, SortSpec, UpdateResult, VellumRepository

__all__ = [
    "ASCENDING",
    "DESCENDING",
    "AuthenticationError",
    "Binary",
    "ClientClosedError",
    "ConfigurationError",
    "ConnectionError",
    "DocumentValidationError",
    "DuplicateKeyError",
    "Filter",
    "Index",
    "IndexConflictError",
    "MaxKey",
    "MinKey",
    "ObjectId",
    "OperationFailure",
    "QField",
    "QueryError",
    "QueryExpr",
    "QueryProxy",
    "ServerSelectionTimeoutError",
    "SortKey",
    "SortSpec",
    "Timestamp",
    "UnsupportedTypeError",
    "UpdateResult",
    "UpdateSpec",
    "ValueOutOfRangeError",
    "VellumBaseModel",
    "VellumClient",
    "VellumError",
    "VellumRepository",
    "__version__",
    "connect_to_mongodb",
    "decode_bson",
    "encode_bson",
    "init_db_client",
    "nor",
    "raw",
]
