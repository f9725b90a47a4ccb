"""Child process for the export benchmark: times one export and reports its own peak RSS (JSON on stdout).

    python benchmarks/export_probe.py DB_URL PROJECT_ID OUT_FILE [FORMAT]
"""

from __future__ import annotations

import json
import resource
import sys
import time


def main() -> None:
    db_url, project_id, out, fmt = sys.argv[1], int(sys.argv[2]), sys.argv[3], (sys.argv[4:] or ["jsonl"])[0]
    from truthline.services import exporting, users
    from truthline.store.db import make_engine

    engine = make_engine(db_url)
    actor = users.first_admin(engine)
    base_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t0 = time.perf_counter()
    with open(out, "wb") as fh:
        exporting.export(engine, actor, project_id, fmt, fh, method="auto")
    seconds = time.perf_counter() - t0
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    json.dump({"seconds": seconds, "peak_rss_mb": peak_kb / 1024, "baseline_rss_mb": base_kb / 1024}, sys.stdout)


if __name__ == "__main__":
    main()
