"""The allocator tuning: a second fit re-uses the first one's freed memory instead of page-faulting it in."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

SCRIPT = textwrap.dedent(
    """
    import json, resource
    import numpy as np
    from truthline.quality import CrowdLabels, aggregate, keep_freed_memory

    rng = np.random.default_rng(0)
    n_items, k = 40_000, 5
    items = np.repeat(np.arange(n_items), 5)
    workers = rng.integers(0, 400, len(items))
    labels = rng.integers(0, k, len(items))
    data = CrowdLabels.from_arrays(items, workers, labels, n_items=n_items, n_workers=400, n_classes=k)
    faults = []
    for _ in range(3):
        before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        aggregate(data, "ds")
        faults.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
    print(json.dumps({"applied": keep_freed_memory(), "faults": faults}))
    """
)


def _run(env_value: str | None) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "TRUTHLINE_MALLOC_TUNING"}
    if env_value is not None:
        env["TRUTHLINE_MALLOC_TUNING"] = env_value
    out = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc allocator tuning is Linux-only")
def test_repeated_fits_reuse_freed_memory() -> None:
    r = _run(None)
    assert r["applied"] is True
    first, *later = r["faults"]
    # 200k labels: the first fit faults in ~20 MB of buffers; later fits find them in the heap
    assert first > 1000
    assert max(later) < first * 0.05, r


def test_tuning_can_be_switched_off() -> None:
    assert _run("0")["applied"] is False
