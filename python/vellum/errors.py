"""Vellum's exceptions. Every one derives from :class:`VellumError`.

Errors raised by the server keep what MongoDB said: ``code``, ``code_name``, ``error_labels``.
The Rust core raises these classes; they live here so they can mix in the built-in exception
a caller may already catch (``ConnectionError``, ``ValueError``, ``TypeError``).
"""

from __future__ import annotations

import builtins
import re
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = [
    "AuthenticationError",
    "ClientClosedError",
    "ConfigurationError",
    "ConnectionError",
    "DanglingLinkError",
    "DocumentNotFoundError",
    "DocumentTooLargeError",
    "DocumentValidationError",
    "DuplicateKeyError",
    "ForkedClientError",
    "IndexConflictError",
    "LinkError",
    "LinkNotLoadedError",
    "MigrationError",
    "MigrationLockedError",
    "OperationFailure",
    "OperationTimeoutError",
    "OptimisticLockError",
    "PageTokenError",
    "QueryError",
    "ServerSelectionTimeoutError",
    "SessionError",
    "TransactionError",
    "TransactionsNotSupportedError",
    "UnsavedLinkError",
    "UnsupportedTypeError",
    "UnvouchedDocumentError",
    "ValueOutOfRangeError",
    "VellumError",
]


class VellumError(Exception):
    """Base class of every exception Vellum raises.

    ``error_labels`` holds the labels the server or the driver attached to a failed operation
    (``"TransientTransactionError"``, ``"UnknownTransactionCommitResult"``...), on every error
    that came from one: server errors and connection errors alike. It is empty otherwise.
    """

    error_labels: tuple[str, ...] = ()

    def has_error_label(self, label: str) -> bool:
        return label in self.error_labels


class ConfigurationError(VellumError, ValueError):
    """A connection string or option is invalid."""


class ConnectionError(VellumError, builtins.ConnectionError):
    """The server could not be reached, or the connection broke. Inside a transaction it
    carries ``TransientTransactionError`` (retry the transaction) or, at commit,
    ``UnknownTransactionCommitResult`` (retry the commit) in ``error_labels``."""

    def __init__(self, message: str, error_labels: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.error_labels = tuple(error_labels)


class ServerSelectionTimeoutError(ConnectionError):
    """No suitable server answered within the server selection timeout.

    Deliberately not a ``TimeoutError`` (which ``asyncio.TimeoutError`` is since Python 3.11):
    code that wraps calls in ``asyncio.wait_for`` or ``asyncio.timeout`` must be able to tell its
    own timeout from an unreachable server."""


class OperationTimeoutError(VellumError):
    """An operation did not complete within its time (the client's ``timeoutMS``, or a
    ``vellum.timeout()`` block). Deliberately not a ``TimeoutError``, like
    :class:`ServerSelectionTimeoutError`.

    Attributes:
        sent: whether the operation had been sent: it then finishes (or fails) on the server
            regardless, and a write may have been applied.
    """

    def __init__(self, message: str, *, sent: bool) -> None:
        super().__init__(message)
        self.sent = sent


class DocumentTooLargeError(VellumError, ValueError):
    """A document is over MongoDB's 16 MiB limit. It was not sent; as the server does with a
    refused write, an ordered ``create_many`` stored the documents before it and an unordered one
    all the others.

    Attributes:
        document_id: its ``_id`` (None if it has none).
        index: its position in the batch.
        size: its size in bytes.
        inserted: how many documents of the batch were stored.
    """

    def __init__(
        self,
        message: str,
        *,
        document_id: Any = None,
        index: int = 0,
        size: int = 0,
        inserted: int = 0,
    ) -> None:
        super().__init__(message)
        self.document_id = document_id
        self.index = index
        self.size = size
        self.inserted = inserted


class ForkedClientError(VellumError):
    """A client created before ``fork()`` was used in the child process. Its connections stay in
    the parent: create a new client in the child (the child can connect as usual)."""


class UnvouchedDocumentError(VellumError, TypeError):
    """Raised by the core, before anything is sent, when an insert's write plan cannot vouch for
    an instance (a value of another type than its field's, as ``model_construct`` or
    ``model_copy(update=...)`` can leave). The repository answers it by validating the instance
    through its model; it reaches users only through the core's collection used directly."""


class AuthenticationError(VellumError):
    """The server refused the credentials in the connection string."""


class ClientClosedError(VellumError):
    """The client was closed; create a new one."""


class UnsupportedTypeError(VellumError, TypeError):
    """A value has a type BSON cannot store; the message names the field path."""


class ValueOutOfRangeError(VellumError, ValueError):
    """A value of a supported type cannot be stored exactly (an int beyond int64, a Decimal
    beyond Decimal128's precision); the message names the field path."""


class OperationFailure(VellumError):
    """The server refused an operation.

    Attributes:
        code: MongoDB's numeric error code, if it sent one.
        code_name: MongoDB's name for the code (``"DuplicateKey"``...).
        error_labels: labels such as ``"TransientTransactionError"``.
        details: what the server attached to a refused write (its ``errInfo``: for a document
            that fails the collection's validator, which rule it broke), if anything.
    """

    def __init__(
        self,
        message: str,
        code: int | None = None,
        code_name: str | None = None,
        error_labels: Sequence[str] = (),
        details: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.code_name = code_name
        self.error_labels: tuple[str, ...] = tuple(error_labels)
        self.details = details

    def __str__(self) -> str:
        if self.code is None:
            return self.message
        return f"{self.message} (code {self.code}{', ' + self.code_name if self.code_name else ''})"


_INDEX_RE = re.compile(r"index: (\S+)")
_DUP_KEY_RE = re.compile(r"dup key: (\{.*\})")


class DuplicateKeyError(OperationFailure):
    """A write would have stored a second document with the same value of a unique index.

    Attributes:
        index_name: the unique index that refused the write.
        key_pattern: that index's keys (``{"email": 1}``) when known.
        key_value: the duplicated value (``{"email": "ada@example.com"}``) when known, else the
            server's text of it.
    """

    def __init__(
        self,
        message: str,
        code: int | None = 11000,
        code_name: str | None = "DuplicateKey",
        error_labels: Sequence[str] = (),
        details: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(message, code, code_name, error_labels, details)
        index = _INDEX_RE.search(message)
        dup = _DUP_KEY_RE.search(message)
        self.index_name: str | None = index.group(1) if index else None
        self.key_pattern: dict[str, Any] | None = None
        self.key_value: dict[str, Any] | str | None = dup.group(1) if dup else None


class IndexConflictError(VellumError):
    """An index with the same name or keys exists with other options.

    Attributes:
        wanted: the index spec the model declares.
        existing: the index spec the server has.
    """

    def __init__(self, collection: str, wanted: Mapping[str, Any], existing: Mapping[str, Any]):
        self.wanted = dict(wanted)
        self.existing = dict(existing)
        super().__init__(
            f"index conflict on collection {collection!r}: the model declares {self.wanted} but "
            f"the server has {self.existing}. Drop the existing index (repository.drop_index"
            f"({self.existing.get('name')!r})) or change the declaration to match it."
        )


class DocumentValidationError(VellumError, ValueError):
    """A document does not fit its model: on the way in (a bad update) or on the way out (a
    stored document that no longer validates).

    Attributes:
        model: the model class name.
        document_id: the document's ``_id``, when known.
        errors: Pydantic's error list (``loc``, ``msg``, ``type``...).
        stored: True when the document came from the database (a stored document, or an
            aggregation's output, that does not fit its model): the data, not the caller's
            input, is at fault. A web service answers it as a server error, not a 422.
    """

    def __init__(
        self,
        message: str,
        *,
        model: str,
        document_id: Any = None,
        errors: Sequence[Mapping[str, Any]] = (),
        stored: bool = False,
    ) -> None:
        super().__init__(message)
        self.model = model
        self.document_id = document_id
        self.errors = [dict(e) for e in errors]
        self.stored = stored


class QueryError(VellumError, ValueError):
    """A query or update expression does not fit the model: an unknown field, a value of the
    wrong type, a value that looks like an operator, two updates of one field."""


class PageTokenError(QueryError):
    """An ``after=`` token that ``paginate`` did not make, or made for another sort. Clients
    should start again from the first page (no ``after``)."""


class SessionError(VellumError):
    """A session was misused: used after its block ended, or with another client."""


class TransactionError(VellumError):
    """A transaction was misused (nested, committed twice...) or could not complete."""


class TransactionsNotSupportedError(TransactionError):
    """The deployment cannot run transactions: they need a replica set or a sharded cluster."""


class DocumentNotFoundError(VellumError, LookupError):
    """A write needed a stored document that is not there: ``save()`` of a document that was
    stored and has been deleted since. Nothing was written.

    Attributes:
        document_id: the document's ``_id``.
    """

    def __init__(self, document_id: Any, collection: str) -> None:
        self.document_id = document_id
        super().__init__(
            f"document {document_id!r} is no longer in {collection!r} (it was deleted after it "
            "was read): nothing was written. Use create() to store it again on purpose."
        )


class OptimisticLockError(VellumError):
    """A versioned write found the document at another version than the one it started from:
    someone else changed it first. Nothing was written; reload, reapply and retry.

    Attributes:
        document_id: the document's ``_id``.
        expected_version: the version the write started from.
        current_version: the stored version now, or None if the document no longer exists (or
            its version field holds no integer: ``exists`` tells the two apart).
        exists: whether the document is still stored.
    """

    def __init__(
        self,
        document_id: Any,
        expected_version: int,
        current_version: int | None,
        *,
        exists: bool | None = None,
    ):
        self.document_id = document_id
        self.expected_version = expected_version
        self.current_version = current_version
        self.exists = current_version is not None if exists is None else exists
        if current_version is not None:
            now = f"it is now at version {current_version}"
        elif self.exists:
            now = "the stored document's version field is missing or not an integer"
        else:
            now = "the document no longer exists"
        super().__init__(
            f"document {document_id!r} was changed by someone else: expected version "
            f"{expected_version}, but {now}. Nothing was written; reload it and retry."
        )


class LinkError(VellumError):
    """A link between documents was used in a way its state does not allow (see
    :class:`~vellum.Link`)."""


class LinkNotLoadedError(LinkError, LookupError):
    """A link's document was asked for before it was loaded: load it with ``fetch_links=`` on
    the read, or ``await link.fetch()``."""


class DanglingLinkError(LinkError, LookupError):
    """A link points to a document that is not there (deleted, soft-deleted, or never stored).

    Attributes:
        model: the target model's name.
        document_id: the ``_id`` the link holds.
    """

    def __init__(self, model: str, document_id: Any) -> None:
        self.model = model
        self.document_id = document_id
        super().__init__(
            f"the link points to {model} {document_id!r}, which is not stored (deleted, "
            "soft-deleted, or never created); check `link.missing` before using `link.doc`"
        )


class UnsavedLinkError(LinkError, ValueError):
    """A write would store a link to a document that was never stored. Nothing was written:
    create the linked document first, or pass ``link_rule=LinkRule.WRITE`` to insert it in the
    same write (and session)."""


class MigrationError(VellumError):
    """A migration could not run: a broken migrations folder, a revision the database has
    and the folder does not, a step that failed (what it had done is kept and the next run
    resumes there), or values that did not convert."""


class MigrationLockedError(MigrationError):
    """Another runner holds the migration lock of this database (and its lease has not run
    out). Nothing was done.

    Attributes:
        holder: the lock document (owner, host, pid, acquired_at, expires_at).
    """

    def __init__(self, message: str, holder: Mapping[str, Any]) -> None:
        super().__init__(message)
        self.holder = dict(holder)
