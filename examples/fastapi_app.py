"""A FastAPI service on Vellum: customers and their accounts, money transfers in a transaction.

pip install "vellum-odm[fastapi]" uvicorn
MONGODB_URI=mongodb://localhost:27017 uvicorn examples.fastapi_app:app

What it shows: the lifespan that connects and closes (and creates the indexes), repositories
and a transaction handed to routes as dependencies, Vellum's errors as HTTP answers (422, 404,
409, 503), a filtered, sorted and paginated list, an aggregation with a typed response model,
and ObjectId, Decimal and datetime fields in JSON and in the OpenAPI schema (/docs).
"""

from __future__ import annotations

import os
from decimal import Decimal
from typing import Annotated, Any, Literal, NoReturn

from fastapi import Body, FastAPI, HTTPException, Query
from pydantic import BaseModel, Field

from vellum import (
    Index,
    Link,
    ObjectId,
    Page,
    Session,
    VellumBaseModel,
    VellumRepository,
    Versioned,
    acc,
)
from vellum.fastapi import Vellum, add_error_handlers, get_or_404

# -- models --------------------------------------------------------------------------------


class Customer(VellumBaseModel[ObjectId]):
    name: str = Field(min_length=1)
    email: str

    class Settings:
        indexes = [Index("email", unique=True)]


class Account(Versioned, VellumBaseModel[ObjectId]):
    owner: Link[Customer]
    currency: Literal["EUR", "USD"]
    balance: Decimal = Field(default=Decimal("0"), ge=0)

    class Settings:
        indexes = [Index([("owner", 1), ("balance", -1)])]


class NewAccount(BaseModel):
    owner: ObjectId
    currency: Literal["EUR", "USD"]
    balance: Decimal = Field(default=Decimal("0"), ge=0)


class AccountChange(BaseModel):
    currency: Literal["EUR", "USD"]
    version: int  # the version the client read: a stale one answers 409


class Transfer(BaseModel):
    source: ObjectId
    target: ObjectId
    amount: Decimal = Field(gt=0)


class CurrencyTotal(BaseModel):
    currency: str = Field(alias="_id")
    accounts: int
    total: Decimal


# -- the app -------------------------------------------------------------------------------

vellum = Vellum(
    os.environ.get("MONGODB_URI", "mongodb://localhost:27017"),
    os.environ.get("BANK_DATABASE", "bank"),
    ensure_indexes=(Customer, Account),
)
app = FastAPI(title="Bank", lifespan=vellum.lifespan())
add_error_handlers(app)

Customers = Annotated[VellumRepository[Customer], vellum.repository(Customer)]
Accounts = Annotated[VellumRepository[Account], vellum.repository(Account)]
Transaction = Annotated[Session, vellum.transaction()]


@app.post("/customers", status_code=201)
async def create_customer(customer: Customer, customers: Customers) -> Customer:
    return await customers.create(customer)  # a taken email answers 409


@app.get("/customers/{customer_id}")
async def get_customer(customer_id: ObjectId, customers: Customers) -> Customer:
    return await get_or_404(customers, customer_id)


@app.patch("/customers/{customer_id}")
async def change_customer(
    customer_id: ObjectId, changes: Annotated[dict[str, Any], Body()], customers: Customers
) -> Customer:
    """A partial update with the fields as sent: Vellum validates them against the model (an
    unknown field or a bad value answers 422 with Pydantic's errors)."""
    changed = await customers.update(customer_id, changes)
    return changed if changed is not None else await get_or_404(customers, customer_id)


@app.post("/accounts", status_code=201)
async def open_account(new: NewAccount, customers: Customers, accounts: Accounts) -> Account:
    owner = await get_or_404(customers, new.owner)
    return await accounts.create(
        Account(owner=Link(owner), currency=new.currency, balance=new.balance)
    )


@app.get("/accounts")
async def list_accounts(
    accounts: Accounts,
    owner: ObjectId | None = None,
    min_balance: Decimal = Decimal("0"),
    order: Literal["balance", "-balance"] = "-balance",
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    after: str | None = None,
) -> Page[Account]:
    Q = Account.Q
    where = Q.balance >= min_balance
    if owner is not None:
        where &= Q.owner.id == owner
    sort = [Q.balance.desc() if order == "-balance" else Q.balance.asc()]
    return await accounts.paginate(where, sort=sort, limit=limit, after=after)


@app.get("/accounts/{account_id}")
async def get_account(account_id: ObjectId, accounts: Accounts) -> Account:
    return await get_or_404(accounts, account_id)


@app.patch("/accounts/{account_id}")
async def change_account(
    account_id: ObjectId, change: AccountChange, accounts: Accounts
) -> Account:
    changed = await accounts.update(
        account_id, {"currency": change.currency}, expected_version=change.version
    )  # someone else's change in between answers 409 with the current version
    if changed is None:
        return await get_or_404(accounts, account_id)  # 404
    return changed


@app.delete("/accounts/{account_id}", status_code=204)
async def close_account(account_id: ObjectId, accounts: Accounts) -> None:
    if not await accounts.delete(account_id):
        await get_or_404(accounts, account_id)  # 404


@app.get("/totals")
async def totals(accounts: Accounts) -> list[CurrencyTotal]:
    Q = Account.Q
    pipeline = accounts.aggregate_pipeline().group(
        Q.currency, output_model=CurrencyTotal, accounts=acc.count(), total=acc.sum(Q.balance)
    )
    return await pipeline.sort(("_id", 1)).execute()


@app.post("/transfers")
async def transfer(move: Transfer, accounts: Accounts, session: Transaction) -> list[Account]:
    """Both balances change, or neither: the transaction commits when this returns, and any
    exception (the HTTPExceptions below included) aborts it."""
    Q = Account.Q
    source = await get_or_404(accounts, move.source, session=session)
    taken = await accounts.update_one(
        (Q.id == source.id) & (Q.balance >= move.amount),
        Q.balance.inc(-move.amount),
        session=session,
    )
    if taken.matched == 0:
        raise_conflict("insufficient funds")
    given = await accounts.update_one(
        (Q.id == move.target) & (Q.currency == source.currency),
        Q.balance.inc(move.amount),
        session=session,
    )
    if given.matched == 0:  # the debit above is rolled back
        raise HTTPException(404, f"no {source.currency} account {move.target}")
    return await accounts.find(
        Q.id.in_([move.source, move.target]), sort=[Q.id.asc()], session=session
    )


def raise_conflict(reason: str) -> NoReturn:
    raise HTTPException(409, reason)
