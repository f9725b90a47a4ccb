"""Truth inference offloaded to a lower-priority child process (truthline.offload): real processes only."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator

import numpy as np
import pytest

from truthline import offload
from truthline.quality import CrowdLabels, QualityInputError, aggregate
from tests.quality.crowd_data import simulate


@pytest.fixture
def offloading() -> Iterator[None]:
    offload.configure(1)
    try:
        yield
    finally:
        offload.configure(None)
        offload.shutdown()


def test_calls_run_in_a_lower_priority_child_with_the_same_answers(offloading: None) -> None:
    child = offload.call(os.getpid, size=1)
    assert child != os.getpid()
    assert offload.call(os.getpid, size=1) == child  # one child, reused
    assert offload.call(os.nice, 0, size=1) == min(19, os.nice(0) + offload.NICENESS)
    assert offload.call(os.getpid, size=0) == os.getpid()  # under the threshold: here
    crowd, _ = simulate(seed=4)
    there = offload.call(aggregate, crowd, method="auto", size=crowd.n_labels)
    here = aggregate(crowd, "auto")
    assert np.array_equal(there.posteriors, here.posteriors)
    assert np.array_equal(there.worker_params["model_weights"], here.worker_params["model_weights"])


def test_off_by_default_and_when_configured_off() -> None:
    offload.configure(None)
    assert offload.call(os.getpid, size=10**9) == os.getpid()
    offload.configure(0)
    assert offload.call(os.getpid, size=10**9) == os.getpid()


def test_errors_come_back_as_raised(offloading: None) -> None:
    crowd = CrowdLabels.from_arrays([0, 1], [0, 1], [0, 1], n_classes=2)
    with pytest.raises(QualityInputError) as err:
        offload.call(aggregate, crowd, method="nope", size=2)
    assert err.value.field == "method" and "unknown method 'nope'" in str(err.value)


def test_a_dead_child_is_replaced(offloading: None) -> None:
    child = offload.call(os.getpid, size=1)
    os.kill(child, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while os.path.exists(f"/proc/{child}") and time.monotonic() < deadline:
        time.sleep(0.05)
    assert offload.call(os.getpid, size=1) == os.getpid()  # the broken child: this call runs here
    replacement = offload.call(os.getpid, size=1)
    assert replacement not in (child, os.getpid())


def test_an_idle_child_ends_and_the_next_call_starts_another(offloading: None) -> None:
    offload.configure(1, idle_seconds=1.0)
    child = offload.call(os.getpid, size=1)
    offload.call(time.sleep, 1.5, size=1)  # a call longer than the idle time does not lose its child
    assert offload.call(os.getpid, size=1) == child
    deadline = time.monotonic() + 10
    while os.path.exists(f"/proc/{child}") and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not os.path.exists(f"/proc/{child}")  # idle: ended, its memory given back
    offload.configure(1, idle_seconds=0)  # 0: the child stays
    replacement = offload.call(os.getpid, size=1)
    assert replacement not in (child, os.getpid())
    time.sleep(1.5)
    assert offload.call(os.getpid, size=1) == replacement


CHILD_OF_A_DYING_PARENT = """
import os, sys
from truthline import offload
offload.configure(1)
print(offload.call(os.getpid, size=1), flush=True)
os._exit(0)  # no exit hooks: as if the server were killed
"""


def test_the_child_ends_with_its_parent() -> None:
    out = subprocess.run([sys.executable, "-c", CHILD_OF_A_DYING_PARENT], capture_output=True, text=True,
                         timeout=60, check=True)
    child = int(out.stdout.split()[0])
    deadline = time.monotonic() + 10
    while os.path.exists(f"/proc/{child}") and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not os.path.exists(f"/proc/{child}")
