"""The one seam between the Python package and the native core (``vellum._core``).

Nothing else in the package imports ``_core``: the native types come from here, one
collection's operations from :mod:`vellum._bridge.documents` (Python options in, Python values
out), and the deadline of every awaited core call from :mod:`vellum._bridge.timeouts`. Sessions
wrap the core's in :mod:`vellum.session`. A change of the core's interface is a change here.
"""

from .._core import (  # pyright: ignore[reportPrivateUsage]
    Binary,
    Code,
    DatetimeMS,
    DBPointer,
    MaxKey,
    MinKey,
    ModelPlan,
    ObjectId,
    Pipeline,
    QueryExpr,
    Regex,
    Timestamp,
    UpdateSpec,
    __version__,
    decode_bson,
    encode_bson,
)
from .._core import Client as NativeClient  # pyright: ignore[reportPrivateUsage]
from .._core import Collection as NativeCollection  # pyright: ignore[reportPrivateUsage]
from .._core import Cursor as NativeCursor  # pyright: ignore[reportPrivateUsage]
from .._core import Session as NativeSession  # pyright: ignore[reportPrivateUsage]

__all__ = [
    "Binary",
    "Code",
    "DBPointer",
    "DatetimeMS",
    "MaxKey",
    "MinKey",
    "ModelPlan",
    "NativeClient",
    "NativeCollection",
    "NativeCursor",
    "NativeSession",
    "ObjectId",
    "Pipeline",
    "QueryExpr",
    "Regex",
    "Timestamp",
    "UpdateSpec",
    "__version__",
    "decode_bson",
    "encode_bson",
]
