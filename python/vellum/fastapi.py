"""FastAPI integration: a lifespan that connects and closes, dependencies that hand a route its
repository, session or transaction, and Vellum's errors as HTTP answers.

Importing this module imports FastAPI (install ``vellum-odm[fastapi]``); nothing else in Vellum
does.

>>> vellum = Vellum("mongodb://localhost:27017", "shop")        # doctest: +SKIP
>>> app = FastAPI(lifespan=vellum.lifespan())                    # doctest: +SKIP
>>> add_error_handlers(app)                                      # doctest: +SKIP
>>> Products = Annotated[VellumRepository[Product], vellum.repository(Product)]  # doctest: +SKIP
>>> Transaction = Annotated[Session, vellum.transaction()]       # doctest: +SKIP
"""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp

from .client import VellumClient, connect_to_mongodb
from .errors import (
    ConnectionError,
    DocumentNotFoundError,
    DocumentValidationError,
    DuplicateKeyError,
    OperationTimeoutError,
    OptimisticLockError,
    PageTokenError,
    VellumError,
)
from .model import VellumBaseModel
from .repository import VellumRepository
from .session import Session, TransactionSettings

if TYPE_CHECKING:
    from typing_extensions import Unpack

__all__ = [
    "Vellum",
    "add_error_handlers",
    "error_response",
    "get_or_404",
    "not_found",
]

M = TypeVar("M", bound="VellumBaseModel[Any]")
AppT = TypeVar("AppT", bound=ASGIApp)

Lifespan = Callable[[AppT], AbstractAsyncContextManager[Any]]

log = logging.getLogger("vellum.fastapi")


class Vellum:
    """One database connection for an app: connected by :meth:`lifespan` at startup, closed at
    shutdown, handed to routes through the dependencies below.

    ``uri`` and ``database`` are those of :func:`~vellum.connect_to_mongodb`, and so are the
    keyword ``options``. ``ensure_indexes`` lists models whose declared indexes are created at
    startup (an existing index of the same name with other options fails the startup with
    :class:`~vellum.IndexConflictError`)."""

    def __init__(
        self,
        uri: str,
        database: str,
        *,
        ensure_indexes: tuple[type[VellumBaseModel[Any]], ...] = (),
        **options: Any,
    ) -> None:
        self.uri = uri
        self.database = database
        self._options = options
        self._ensure = ensure_indexes
        self._client: VellumClient | None = None
        self._repositories: dict[type[Any], VellumRepository[Any]] = {}

    @property
    def client(self) -> VellumClient:
        """The connected client (between startup and shutdown)."""
        if self._client is None:
            raise RuntimeError(
                "Vellum is not connected: pass vellum.lifespan() to FastAPI(lifespan=...), "
                "and use the client from routes or startup code only"
            )
        return self._client

    def lifespan(self, app_lifespan: Lifespan[AppT] | None = None) -> Lifespan[AppT]:
        """The app's lifespan: connects (and creates the indexes of ``ensure_indexes``) before
        the app's own ``app_lifespan`` starts, and closes the client after it ends, so that the
        app's startup and shutdown code can use the database. What ``app_lifespan`` yields (a
        lifespan state) is passed on."""

        @asynccontextmanager
        async def run(app: AppT) -> AsyncGenerator[Any]:
            if self._client is not None:
                raise RuntimeError("this Vellum is already connected: one app per Vellum")
            self._client = await connect_to_mongodb(self.uri, self.database, **self._options)
            try:
                for model in self._ensure:
                    await self.get_repository(model).ensure_indexes()
                if app_lifespan is None:
                    yield None
                else:
                    async with app_lifespan(app) as state:
                        yield state
            finally:
                client, self._client = self._client, None
                self._repositories.clear()
                await client.close()

        return run

    def get_repository(self, model: type[M]) -> VellumRepository[M]:
        """The repository of ``model`` in this app's database (one per model, made once)."""
        client = self.client
        repository = self._repositories.get(model)
        if repository is None:
            repository = VellumRepository(model, client)
            self._repositories[model] = repository
        return repository

    def repository(self, model: type[M]) -> Any:
        """A dependency giving a route the repository of ``model``:
        ``Products = Annotated[VellumRepository[Product], vellum.repository(Product)]``."""

        def provide() -> VellumRepository[M]:
            return self.get_repository(model)

        return Depends(provide)

    def session(self) -> Any:
        """A dependency giving a route a session of its own (causally consistent reads of its
        own writes), ended when the route returns: ``Annotated[Session, vellum.session()]``."""

        async def provide() -> AsyncIterator[Session]:
            async with self.client.start_session() as session:
                yield session

        return Depends(provide, scope="function")

    def transaction(self, **settings: Unpack[TransactionSettings]) -> Any:
        """A dependency giving a route a transaction: ``Annotated[Session,
        vellum.transaction()]``. Pass the session to every call that belongs to it.

        It commits when the route returns, before the response is sent, so a commit that fails
        answers with an error (through the handlers of :func:`add_error_handlers`: a 503 for a
        transient failure the client may retry) instead of a success; it aborts when the route
        raises, ``HTTPException`` included. ``settings`` are those of
        :meth:`VellumClient.transaction` (``read_concern``, ``write_concern``...)."""

        async def provide() -> AsyncIterator[Session]:
            async with self.client.transaction(**settings) as session:
                yield session

        return Depends(provide, scope="function")


# -- errors as HTTP answers ----------------------------------------------------------------


def not_found(model: type[VellumBaseModel[Any]] | str, document_id: Any) -> NoReturn:
    """Raises the 404 of a document that is not there."""
    name = model if isinstance(model, str) else model.__name__
    raise HTTPException(404, f"{name} {document_id} not found")


async def get_or_404(
    repository: VellumRepository[M], document_id: Any, *, session: Session | None = None
) -> M:
    """The document with ``document_id``, or a 404 answer. An id that is not valid for the
    model (a malformed ObjectId...) is a 404 too: no such document can exist."""
    try:
        found = await repository.get(document_id, session=session)
    except DocumentValidationError as e:
        if e.stored:
            raise
        found = None
    if found is None:
        not_found(repository.model, document_id)
    return found


def error_response(error: VellumError) -> JSONResponse:
    """The HTTP answer to a Vellum error, as :func:`add_error_handlers` installs it: a route
    that catches an error to add something can still answer the standard way."""
    if isinstance(error, DocumentValidationError):
        if error.stored:
            log.error("a stored document does not fit its model: %s", error)
            return JSONResponse({"detail": "internal server error"}, status_code=500)
        return JSONResponse({"detail": _validation_details(error)}, status_code=422)
    if isinstance(error, DuplicateKeyError):
        fields = _duplicate_fields(error)
        what = ", ".join(fields) if fields else "a unique field"
        return JSONResponse(
            {"detail": f"a document with this {what} already exists", "fields": fields},
            status_code=409,
        )
    if isinstance(error, OptimisticLockError):
        return JSONResponse(
            {
                "detail": "the document was changed by someone else: reload it and retry"
                if error.exists
                else "the document was deleted by someone else",
                "current_version": error.current_version,
            },
            status_code=409,
        )
    if isinstance(error, DocumentNotFoundError):
        return JSONResponse({"detail": "document not found"}, status_code=404)
    if isinstance(error, PageTokenError):
        return JSONResponse({"detail": str(error)}, status_code=400)
    if isinstance(error, ConnectionError) or error.has_error_label("TransientTransactionError"):
        return JSONResponse(
            {"detail": "the database is unavailable: retry later"},
            status_code=503,
            headers={"Retry-After": "1"},
        )
    if isinstance(error, OperationTimeoutError):
        return JSONResponse(
            {"detail": "the database did not answer in time: retry later"},
            status_code=503,
            headers={"Retry-After": "1"},
        )
    # Anything else is a bug or a server-side refusal the client cannot fix: no details leave.
    log.error("unhandled Vellum error: %r", error)
    return JSONResponse({"detail": "internal server error"}, status_code=500)


def add_error_handlers(app: FastAPI) -> None:
    """Answers Vellum's errors the standard way:

    - :class:`~vellum.DocumentValidationError` of the caller's input: 422, with Pydantic's
      errors (``loc``, ``msg``, ``type``; never the input values). Of a stored document: 500.
    - :class:`~vellum.DuplicateKeyError`: 409, naming the unique fields, never the values.
    - :class:`~vellum.OptimisticLockError`: 409, with ``current_version``.
    - :class:`~vellum.DocumentNotFoundError`: 404. :class:`~vellum.PageTokenError`: 400.
    - Connection errors, timeouts and transient transaction failures: 503 with
      ``Retry-After``.
    - Any other :class:`~vellum.VellumError`: 500, without its message.

    Each is overridable: register your own handler for a class after this call and it wins
    for that class (and its subclasses)."""

    async def handle(request: Request, error: Exception) -> JSONResponse:
        del request
        assert isinstance(error, VellumError)
        return error_response(error)

    app.add_exception_handler(VellumError, handle)


def _validation_details(error: DocumentValidationError) -> list[dict[str, Any]]:
    if not error.errors:
        return [{"loc": [], "msg": str(error), "type": "value_error"}]
    return [
        {"loc": list(e.get("loc", ())), "msg": str(e.get("msg", "")), "type": e.get("type")}
        for e in error.errors
    ]


_DUP_KEY_NAMES = re.compile(r"(?:^|[{,])\s*([A-Za-z_$][\w.$]*)\s*:")


def _duplicate_fields(error: DuplicateKeyError) -> list[str]:
    if error.key_pattern:
        return list(error.key_pattern)
    value = error.key_value
    if isinstance(value, Mapping):
        return [str(k) for k in value]  # pyright: ignore[reportUnknownVariableType]
    if isinstance(value, str):
        # The server's text, "{ email: \"a@x\" }": the names only, never the values.
        head = re.sub(r'"(?:[^"\\]|\\.)*"', '""', value)
        return _DUP_KEY_NAMES.findall(head)
    return []
