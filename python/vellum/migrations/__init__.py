"""Schema migrations: a folder of revisions, run with ``vellum migrate`` or from Python.

See the README's "Migrations" section: files (:mod:`vellum.migrations.chain`), the operations
of :class:`MigrationContext`, the records and the lock (:mod:`vellum.migrations.state`).
"""

from .chain import Chain, Migration, load_chain, scaffold
from .context import TRANSACTION_LIMIT, ConversionReport, MigrationContext
from .progress import PlainReporter, Reporter, TerminalReporter, reporter_for
from .runner import RevisionStatus, downgrade, stamp, status, upgrade
from .state import STATE_COLLECTION

__all__ = [
    "STATE_COLLECTION",
    "TRANSACTION_LIMIT",
    "Chain",
    "ConversionReport",
    "Migration",
    "MigrationContext",
    "PlainReporter",
    "Reporter",
    "RevisionStatus",
    "TerminalReporter",
    "downgrade",
    "load_chain",
    "reporter_for",
    "scaffold",
    "stamp",
    "status",
    "upgrade",
]
