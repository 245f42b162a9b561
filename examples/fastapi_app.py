"""A FastAPI service on Vellum: connect at startup, close at shutdown.

pip install fastapi uvicorn
MONGODB_URI=mongodb://localhost:27017 uvicorn examples.fastapi_app:app
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from uuid import UUID

from fastapi import FastAPI, HTTPException, Request

from vellum import VellumBaseModel, VellumClient, VellumRepository, connect_to_mongodb


class Note(VellumBaseModel):
    text: str


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    client = await connect_to_mongodb(
        os.environ.get("MONGODB_URI", "mongodb://localhost:27017"), "notes_app"
    )
    app.state.client = client
    app.state.notes = VellumRepository(Note, client)
    try:
        yield
    finally:
        await client.close()  # before the event loop ends


app = FastAPI(lifespan=lifespan)


def notes(request: Request) -> VellumRepository[Note]:
    return request.app.state.notes


@app.post("/notes")
async def create_note(note: Note, request: Request) -> Note:
    return await notes(request).create(note)


@app.get("/notes/{note_id}")
async def get_note(note_id: UUID, request: Request) -> Note:
    found = await notes(request).get(note_id)
    if found is None:
        raise HTTPException(404, "no such note")
    return found


def client_of(app_: FastAPI) -> VellumClient:
    return app_.state.client
