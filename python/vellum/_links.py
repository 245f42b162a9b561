"""Where a model's links are and how a read loads them (private module).

``link_paths(model)`` finds every ``Link``/``BackLink`` field of a model, at the top level and
inside embedded models and lists of them, once per model. ``LinkLoader`` loads the links of a
batch of documents: one ``$in`` query per link path (never one per document), the paths of a
level concurrently, nested levels the same way up to the depth asked for.
"""

from __future__ import annotations

import asyncio
import typing
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from pydantic import BaseModel

from ._fields import link_of, nested_model
from .errors import QueryError
from .links import BackLink, Link
from .session import Session

__all__ = ["FetchLinks", "LinkLoader", "LinkPath", "link_paths"]

FetchLinks = bool | int | Iterable[str] | None
"""``fetch_links=``: True (every link, one level), a depth, or the paths to load."""

MAX_DEPTH = 10
"""The deepest ``fetch_links=`` a read follows: links between documents may form cycles
(an author's books link to the author), and each level is one more query per path."""

MAX_NESTING = 32
"""How deeply the field walk follows embedded models (a model that contains itself stops
here)."""

IN_CHUNK = 20_000
"""Ids per ``$in`` query: a bounded filter, and chunks of one path are read concurrently."""


@dataclass(frozen=True, slots=True)
class LinkPath:
    """One link field of a model: ``name`` is its dotted attribute path (``chapters.reviewer``),
    ``stored`` the dotted stored path of the id it holds (``author``, or ``author.$id`` for a
    DBRef). A back-link has ``back``: the name of the target's link field that points here."""

    name: str
    stored: str
    target: type[Any]
    dbref: bool = False
    back: str | None = None

    @property
    def steps(self) -> tuple[str, ...]:
        return tuple(self.name.split("."))


def link_paths(model: type[BaseModel]) -> tuple[LinkPath, ...]:
    """Every link field of ``model`` (computed once per model class)."""
    cached: tuple[LinkPath, ...] | None = model.__dict__.get("__vellum_links__")
    if cached is None:
        if not model.__pydantic_complete__:
            raise TypeError(f"{model.__name__} is not fully defined: call model_rebuild()")
        cached = tuple(_walk(model, "", "", 0, (model,)))
        type.__setattr__(model, "__vellum_links__", cached)
    return cached


def _walk(
    model: type[BaseModel], name: str, stored: str, depth: int, open: tuple[type, ...]
) -> Iterator[LinkPath]:
    if depth > MAX_NESTING:
        return
    for field_name, field in model.model_fields.items():
        at, at_stored = f"{name}{field_name}", f"{stored}{field.alias or field_name}"
        default: object = field.default
        if isinstance(default, BackLink):
            if depth:
                raise TypeError(
                    f"{model.__name__}.{field_name}: a BackLink belongs on a stored document's "
                    "own fields, not in an embedded model (it finds documents that link to "
                    "the document's _id)"
                )
            declared: Any = field.annotation
            if typing.get_origin(declared) is typing.Annotated:
                declared = typing.get_args(declared)[0]
            target = typing.get_args(declared)[0]
            back = typing.cast("BackLink[Any]", default)
            yield LinkPath(at, "_id", target, back=back.field)
            continue
        yield from _annotation(field.annotation, at, at_stored, depth, open, field.metadata)


def _annotation(
    annotation: Any,
    name: str,
    stored: str,
    depth: int,
    open: tuple[type, ...],
    metadata: Sequence[Any] = (),
) -> Iterator[LinkPath]:
    link = link_of(annotation, metadata)
    if link is not None:
        yield LinkPath(name, link.id_path(stored), link.target, link.dbref)
        return
    nested = nested_model(annotation)
    if nested is not None and nested not in open:
        yield from _walk(nested, f"{name}.", f"{stored}.", depth + 1, (*open, nested))


def values_at(documents: Iterable[Any], steps: Sequence[str]) -> Iterator[Any]:
    """The values at ``steps`` in the documents, lists flattened, absent values skipped."""
    values: Iterable[Any] = documents
    for step in steps:
        values = list(_flat([getattr(value, step, None) for value in values]))
    return iter(values)


def _flat(values: Iterable[Any]) -> Iterator[Any]:
    for value in values:
        if isinstance(value, (list, tuple, set, frozenset)):
            yield from typing.cast("Iterable[Any]", value)
        elif value is not None:
            yield value


class LinkedReads(Protocol):
    """What loading needs of the target model's repository."""

    async def find_linked(
        self,
        filter: Mapping[str, Any],
        fetch_links: FetchLinks,
        include_deleted: bool,
        session: Session | None,
    ) -> list[Any]: ...


Plan = dict[LinkPath, FetchLinks]


def plan_for(model: type[BaseModel], fetch_links: FetchLinks) -> Plan:
    """Which link paths of ``model`` to load now, and what to load below each."""
    if fetch_links is None or fetch_links is False:
        return {}
    paths = link_paths(model)
    if fetch_links is True:
        fetch_links = 1
    if isinstance(fetch_links, int):
        if not 0 <= fetch_links <= MAX_DEPTH:
            raise QueryError(f"fetch_links takes a depth from 0 to {MAX_DEPTH}, got {fetch_links}")
        below = fetch_links - 1
        return dict.fromkeys(paths, below) if fetch_links else {}
    if isinstance(fetch_links, (str, bytes, Mapping)):
        raise QueryError(
            f"fetch_links takes True, a depth or a list of paths such as ['author'], got "
            f"{fetch_links!r}"
        )
    plan: dict[LinkPath, list[str]] = {}
    for wanted in fetch_links:
        path = next((p for p in paths if wanted == p.name or wanted.startswith(f"{p.name}.")), None)
        if path is None:
            names = sorted(p.name for p in paths) or "none"
            raise QueryError(
                f"{model.__name__} has no link at {wanted!r}; its link fields are {names}"
            )
        rest = plan.setdefault(path, [])
        if wanted != path.name:
            rest.append(wanted[len(path.name) + 1 :])
    return {path: rest or None for path, rest in plan.items()}


class LinkLoader:
    """Loads the links of documents read by one repository; ``reads`` gives the repository of
    a linked model (same client, database)."""

    __slots__ = ("_reads",)

    def __init__(self, reads: Callable[[type[Any]], LinkedReads]) -> None:
        self._reads = reads

    async def load(
        self,
        documents: Sequence[BaseModel],
        model: type[BaseModel],
        fetch_links: FetchLinks,
        include_deleted: bool,
        session: Session | None,
    ) -> None:
        plan = plan_for(model, fetch_links)
        if not plan or not documents:
            return
        loads: list[Awaitable[None]] = [
            self._back(documents, path, below, include_deleted, session)
            if path.back is not None
            else self._forward(documents, path, below, include_deleted, session)
            for path, below in plan.items()
        ]
        await asyncio.gather(*loads)

    async def _forward(
        self,
        documents: Sequence[BaseModel],
        path: LinkPath,
        below: FetchLinks,
        include_deleted: bool,
        session: Session | None,
    ) -> None:
        links: list[Link[Any]] = [
            v for v in values_at(documents, path.steps) if isinstance(v, Link)
        ]
        if not links:
            return
        ids = list(dict.fromkeys(link.id for link in links))
        docs = await self._find_in(path.target, "_id", ids, below, include_deleted, session)
        found = {doc.id: doc for doc in docs}
        for link in links:
            link._resolve(found.get(link.id))  # pyright: ignore[reportPrivateUsage]

    async def _find_in(
        self,
        target: type[Any],
        field: str,
        ids: list[Any],
        below: FetchLinks,
        include_deleted: bool,
        session: Session | None,
    ) -> list[Any]:
        """The ``target`` documents whose ``field`` is one of ``ids``: one ``$in`` query (a few
        concurrent ones for very many ids), their own links loaded as ``below`` says."""
        reads = self._reads(target)
        chunks = await asyncio.gather(
            *(
                reads.find_linked(
                    {field: {"$in": ids[i : i + IN_CHUNK]}}, below, include_deleted, session
                )
                for i in range(0, len(ids), IN_CHUNK)
            )
        )
        return [doc for chunk in chunks for doc in chunk]

    async def _back(
        self,
        documents: Sequence[BaseModel],
        path: LinkPath,
        below: FetchLinks,
        include_deleted: bool,
        session: Session | None,
    ) -> None:
        owner = type(documents[0])
        pointing = back_path(owner, path)
        holders: list[tuple[Any, BackLink[Any]]] = [
            (typing.cast("Any", doc).id, getattr(doc, path.name)) for doc in documents
        ]
        ids = list(dict.fromkeys(doc_id for doc_id, _ in holders))
        docs = await self._find_in(
            path.target, pointing.stored, ids, below, include_deleted, session
        )
        by_owner: dict[Any, list[Any]] = {}
        for doc in docs:
            seen: set[Any] = set()
            for link in values_at([doc], pointing.steps):
                if isinstance(link, Link) and link.id not in seen:
                    seen.add(link.id)
                    by_owner.setdefault(link.id, []).append(doc)
        for doc_id, back in holders:
            back._docs = by_owner.get(doc_id, [])  # pyright: ignore[reportPrivateUsage]


def back_path(owner: type[BaseModel], back: LinkPath) -> LinkPath:
    """The target's link field that a back-link of ``owner`` follows, checked."""
    found = next((p for p in link_paths(back.target) if p.name == back.back), None)
    if found is None or found.back is not None or not issubclass(owner, found.target):
        raise TypeError(
            f"{owner.__name__}.{back.name} is a BackLink over {back.target.__name__}."
            f"{back.back}, which is not a link to {owner.__name__}; name a Link[{owner.__name__}]"
            f" field of {back.target.__name__} (links are "
            f"{sorted(p.name for p in link_paths(back.target) if p.back is None)})"
        )
    return found


def linked_documents(
    documents: Sequence[BaseModel], model: type[BaseModel]
) -> dict[type[Any], list[Any]]:
    """The documents that the links of ``documents`` hold (built with ``Link(document)`` or
    assigned a document, never stored or not), by target model, each once."""
    found: dict[type[Any], dict[int, Any]] = {}
    for path in link_paths(model):
        if path.back is not None:
            continue
        for link in values_at(documents, path.steps):
            if isinstance(link, Link) and link.fetched and not link.missing:
                doc = typing.cast("Link[Any]", link).doc
                found.setdefault(path.target, {})[id(doc)] = doc
    return {target: list(docs.values()) for target, docs in found.items()}


def link_ids(documents: Sequence[BaseModel], model: type[BaseModel]) -> dict[type[Any], list[Any]]:
    """The ids the links of ``documents`` hold, by target model, each once."""
    found: dict[type[Any], dict[Any, None]] = {}
    for path in link_paths(model):
        if path.back is None:
            for link in values_at(documents, path.steps):
                if isinstance(link, Link):
                    found.setdefault(path.target, {})[typing.cast("Link[Any]", link).id] = None
    return {target: list(ids) for target, ids in found.items()}
