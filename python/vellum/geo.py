"""GeoJSON geometries as Pydantic models: fields of documents (under a ``2dsphere`` index) and
the operands of ``near``, ``geo_within`` and ``geo_intersects``.

Positions are ``(longitude, latitude)`` in degrees, in that order, as GeoJSON and MongoDB have
them; each is checked to lie on the globe. A polygon's rings are closed (the last position is
the first) and have at least four positions, as MongoDB requires.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict

__all__ = ["Geometry", "LineString", "MultiPoint", "MultiPolygon", "Point", "Polygon", "Position"]


def _on_the_globe(position: tuple[float, float]) -> tuple[float, float]:
    longitude, latitude = position
    if not -180 <= longitude <= 180:
        raise ValueError(f"longitude {longitude} is not within -180..180 (positions are lng, lat)")
    if not -90 <= latitude <= 90:
        raise ValueError(f"latitude {latitude} is not within -90..90 (positions are lng, lat)")
    return position


Position = Annotated[tuple[float, float], AfterValidator(_on_the_globe)]
"""``(longitude, latitude)`` in degrees."""


def _closed(ring: list[tuple[float, float]]) -> list[tuple[float, float]]:
    if len(ring) < 4:
        raise ValueError(f"a polygon ring has at least 4 positions, got {len(ring)}")
    if ring[0] != ring[-1]:
        raise ValueError("a polygon ring is closed: its last position must be its first")
    return ring


Ring = Annotated[list[Position], AfterValidator(_closed)]


def _two_or_more(line: list[tuple[float, float]]) -> list[tuple[float, float]]:
    if len(line) < 2:
        raise ValueError(f"a line string has at least 2 positions, got {len(line)}")
    return line


class _Geometry(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Point(_Geometry):
    """A position: ``Point(coordinates=(2.35, 48.85))``, or ``Point.at(2.35, 48.85)``."""

    type: Literal["Point"] = "Point"
    coordinates: Position

    @classmethod
    def at(cls, longitude: float, latitude: float) -> Point:
        return cls(coordinates=(longitude, latitude))


class MultiPoint(_Geometry):
    type: Literal["MultiPoint"] = "MultiPoint"
    coordinates: list[Position]


class LineString(_Geometry):
    type: Literal["LineString"] = "LineString"
    coordinates: Annotated[list[Position], AfterValidator(_two_or_more)]


class Polygon(_Geometry):
    """An outer ring, then holes: each a closed list of positions."""

    type: Literal["Polygon"] = "Polygon"
    coordinates: list[Ring]


class MultiPolygon(_Geometry):
    type: Literal["MultiPolygon"] = "MultiPolygon"
    coordinates: list[list[Ring]]


Geometry = Point | MultiPoint | LineString | Polygon | MultiPolygon
"""Any of the GeoJSON geometries above."""
