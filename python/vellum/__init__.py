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
    ServerSelectionTimeoutError,
    UnsupportedTypeError,
    ValueOutOfRangeError,
    VellumError,
)
from .indexes import ASCENDING, DESCENDING, Index
from .model import VellumBaseModel
from .repository import Filter, SortSpec, VellumRepository

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
    "ServerSelectionTimeoutError",
    "SortSpec",
    "Timestamp",
    "UnsupportedTypeError",
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
]
