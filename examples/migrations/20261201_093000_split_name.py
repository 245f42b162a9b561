"""Split full_name into first and last names, in Python"""

from vellum import VellumBaseModel
from vellum.migrations import MigrationContext

revision = "20261201_093000_split_name"
down_revision = "20261201_091500_balance_decimal"


class Before(VellumBaseModel):
    """The document as the previous revision left it."""

    class Settings:
        collection_name = "customers"

    full_name: str


class After(VellumBaseModel):
    class Settings:
        collection_name = "customers"

    first_name: str
    last_name: str


def split(old: Before) -> After:
    first, _, last = old.full_name.partition(" ")
    return After(
        _id=old.id,
        created_at=old.created_at,
        updated_at=old.updated_at,
        first_name=first,
        last_name=last,
    )


def join(new: After) -> Before:
    return Before(
        _id=new.id,
        created_at=new.created_at,
        updated_at=new.updated_at,
        full_name=f"{new.first_name} {new.last_name}".strip(),
    )


async def upgrade(ctx: MigrationContext) -> None:
    await ctx.transform(Before, After, split)


async def downgrade(ctx: MigrationContext) -> None:
    await ctx.transform(After, Before, join)
