"""Rename customers' name to full_name"""

from vellum.migrations import MigrationContext

revision = "20261201_090000_rename_name"
down_revision = None


async def upgrade(ctx: MigrationContext) -> None:
    await ctx.rename_field("customers", "name", "full_name")


async def downgrade(ctx: MigrationContext) -> None:
    await ctx.rename_field("customers", "full_name", "name")
