"""BlueSky's state-based conflict detection on entente's replay CSV, for `entente bench tactical`.

Calls `StateBased.detect` (the pure-numpy all-pairs detection of PyPI `bluesky-simulator`) directly on the
traffic, without starting a simulation, and writes its timings and conflict pairs as JSON.

usage: bluesky_cd.py TRAFFIC_CSV OUT_JSON RUNS RPZ_M HPZ_M LOOKAHEAD_S
"""

import contextlib
import csv
import io
import json
import resource
import sys
import time
import types
from importlib.metadata import version

import numpy as np

# BlueSky prints its plugin and performance-model loading on import; the bench owns stdout.
with contextlib.redirect_stdout(io.StringIO()):
    from bluesky.traffic.asas.statebased import StateBased


def load(path):
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    col = lambda name: np.array([float(r[name]) for r in rows])
    return types.SimpleNamespace(
        ntraf=len(rows),
        id=[r["id"] for r in rows],
        lat=col("lat"),
        lon=col("lon"),
        alt=col("alt_m"),
        gs=col("gs_mps"),
        trk=col("trk_deg"),
        vs=col("vs_mps"),
    )


def main():
    traffic_csv, out_json, runs, rpz, hpz, lookahead = sys.argv[1:7]
    traf = load(traffic_csv)
    n = traf.ntraf
    rpz_v, hpz_v, look_v = np.full(n, float(rpz)), np.full(n, float(hpz)), np.full(n, float(lookahead))
    seconds = []
    result = None
    for _ in range(int(runs)):
        # `self` is unused by detect; ownship and intruder are the same traffic, as in BlueSky's own step.
        start = time.perf_counter()
        result = StateBased.detect(None, traf, traf, rpz_v, hpz_v, look_v)
        seconds.append(time.perf_counter() - start)
    confpairs, _lospairs, _inconf, _tcpamax, _qdr, _dist, dcpa, tcpa, tlos = result
    pairs = [
        [a, b, float(d), float(t), float(tin)] for (a, b), d, t, tin in zip(confpairs, dcpa, tcpa, tlos)
    ]
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    with open(out_json, "w") as f:
        json.dump(
            {
                "bluesky": version("bluesky-simulator"),
                "numpy": np.__version__,
                "seconds": seconds,
                "peak_rss_mib": peak_mib,
                "pairs": pairs,
            },
            f,
        )


if __name__ == "__main__":
    main()
