"""Child process for the export benchmark: times one export and reports its own peak RSS (JSON on stdout).

    python benchmarks/export_probe.py DB_URL PROJECT_ID OUT_FILE [FORMAT [METHOD]]
"""

from __future__ import annotations

import json
import sys
import time


def peak_rss_mb() -> float:
    """This process's own peak RSS (VmHWM). ru_maxrss would carry the parent's peak across fork+exec."""
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def main() -> None:
    db_url, project_id, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    fmt, method = (sys.argv[4:] + ["jsonl", "auto"][len(sys.argv[4:]) :])[:2]
    from truthline.services import exporting, users
    from truthline.store.db import make_engine

    engine = make_engine(db_url)
    actor = users.first_admin(engine)
    base = peak_rss_mb()
    t0 = time.perf_counter()
    with open(out, "wb") as fh:
        exporting.export(engine, actor, project_id, fmt, fh, method=method)
    seconds = time.perf_counter() - t0
    json.dump({"seconds": seconds, "peak_rss_mb": peak_rss_mb(), "baseline_rss_mb": base}, sys.stdout)


if __name__ == "__main__":
    main()
