"""Vellum's quickstart: `bash scripts/quickstart.sh` runs it against the test server.

python examples/quickstart.py mongodb://localhost:27017
"""

from __future__ import annotations

import asyncio
import os
import sys
from decimal import Decimal

from pydantic import BaseModel

from vellum import Index, ObjectId, VellumBaseModel, VellumRepository, connect_to_mongodb


class Address(BaseModel):
    city: str
    zip: str


class User(VellumBaseModel):
    name: str
    email: str
    age: int = 0
    balance: Decimal = Decimal("0")
    address: Address | None = None
    tags: list[str] = []
    manager: ObjectId | None = None

    class Settings:
        collection_name = "users"
        indexes = [Index("email", unique=True), Index([("age", -1), ("name", 1)])]


async def main(uri: str) -> None:
    client = await connect_to_mongodb(uri, "vellum_quickstart")
    try:
        users = VellumRepository(User, client, "vellum_quickstart")
        await users.delete_many({})
        await users.ensure_indexes()
        ada = await users.create(
            User(name="Ada", email="ada@example.com", balance=Decimal("10.25"))
        )
        assert (await users.get(ada.id)) == ada
        page = await users.find({"age": {"$gte": 18}}, skip=0, limit=20, sort=[("age", -1)])
        print(f"adults before the update: {len(page)}")
        bob = await users.update(ada.id, {"age": 37})
        assert bob is not None
        print(f"updated: {bob.name} is {bob.age}, balance {bob.balance}")
        assert await users.count({}) == 1
        assert await users.delete(ada.id) is True
        print("quickstart OK")
    finally:
        await client.close()


if __name__ == "__main__":
    target = (
        sys.argv[1]
        if len(sys.argv) > 1
        else os.environ.get("MONGODB_URI", "mongodb://localhost:27017")
    )
    asyncio.run(main(target))
