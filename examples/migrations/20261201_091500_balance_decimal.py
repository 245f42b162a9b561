"""Store balances as Decimal, and backfill a currency"""

from vellum.migrations import MigrationContext

revision = "20261201_091500_balance_decimal"
down_revision = "20261201_090000_rename_name"


async def upgrade(ctx: MigrationContext) -> None:
    await ctx.convert_field("customers", "balance", "decimal")  # "12.50" -> Decimal("12.50")
    await ctx.set_default("customers", "currency", "EUR")  # only where it is missing


async def downgrade(ctx: MigrationContext) -> None:
    await ctx.remove_field("customers", "currency")
    await ctx.convert_field("customers", "balance", "string")
