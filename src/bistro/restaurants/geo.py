"""Equirectangular distances, the formula both API versions use for ``near=lat,lon``.

``x = dlon * cos(lat0)``, ``y = dlat`` (radians), ``d = R * sqrt(x^2 + y^2)``. ``cos(lat0)``
is computed here once per query, so the SQL needs only arithmetic (SQLite has no trig), and
the squared distance is what SQL filters and sorts on (no ``sqrt`` needed either).
Longitude differences are taken the short way round, so a search near the 180th meridian
reaches across it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

EARTH_RADIUS_KM = 6371.0
KM_PER_DEGREE = EARTH_RADIUS_KM * math.pi / 180.0
DEFAULT_RADIUS_KM = 5.0
MAX_RADIUS_KM = 500.0


@dataclass(frozen=True, slots=True)
class Near:
    latitude: float
    longitude: float
    radius_km: float = DEFAULT_RADIUS_KM

    @property
    def lon_scale(self) -> float:
        """km per degree of longitude at the query's latitude."""
        return KM_PER_DEGREE * math.cos(math.radians(self.latitude))

    def bounding_box(self) -> tuple[float, float, list[tuple[float, float]] | None]:
        """(lat_min, lat_max, longitude ranges) enclosing every point within the radius.

        Exact for this distance (cos(lat0) is fixed). A box that crosses the 180th meridian
        is two longitude ranges, one on each side; near a pole the longitude span is the
        whole circle, so there is no longitude bound (None).
        """
        dlat = self.radius_km / KM_PER_DEGREE
        lat, lon = self.latitude, self.longitude
        scale = self.lon_scale
        if scale <= 1e-9 or self.radius_km / scale >= 180.0:
            return lat - dlat, lat + dlat, None
        dlon = self.radius_km / scale
        low, high = lon - dlon, lon + dlon
        if low < -180.0:
            return lat - dlat, lat + dlat, [(low + 360.0, 180.0), (-180.0, high)]
        if high > 180.0:
            return lat - dlat, lat + dlat, [(low, 180.0), (-180.0, high - 360.0)]
        return lat - dlat, lat + dlat, [(low, high)]

    @property
    def wraps(self) -> bool:
        """Whether some point within the radius lies across the 180th meridian, where the
        plain longitude difference is the long way round."""
        ranges = self.bounding_box()[2]
        return ranges is None or len(ranges) > 1


def short_way(dlon: float) -> float:
    """A longitude difference in degrees, taken the short way round (-180..180)."""
    if dlon > 180.0:
        return dlon - 360.0
    if dlon < -180.0:
        return dlon + 360.0
    return dlon


def distance_km(near: Near, latitude: float, longitude: float) -> float:
    dy = (latitude - near.latitude) * KM_PER_DEGREE
    dx = short_way(longitude - near.longitude) * near.lon_scale
    return math.sqrt(dx * dx + dy * dy)


def parse_near(value: str) -> tuple[float, float]:
    """``"lat,lon"`` -> floats, or ValueError with a message a client can act on."""
    parts = value.split(",")
    if len(parts) != 2:
        raise ValueError("near must be 'lat,lon'")
    try:
        lat, lon = float(parts[0]), float(parts[1])
    except ValueError:
        raise ValueError("near must be two numbers: 'lat,lon'") from None
    if not (math.isfinite(lat) and math.isfinite(lon)):
        raise ValueError("near must be finite numbers")
    if not -90.0 <= lat <= 90.0 or not -180.0 <= lon <= 180.0:
        raise ValueError("near: latitude must be in -90..90 and longitude in -180..180")
    return lat, lon
