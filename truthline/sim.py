"""A simulated workforce for demos, tests and benchmarks.

Each simulated worker has its own confusion matrix (accuracy drawn from a Beta distribution, errors
falling mostly on classes that look alike), its own speed (active ms per answer, log-normal), and a
few are spammers (uniformly random, or always the same label). For numeric projects,
`make_numeric_crowd` draws workers who answer truth + bias + noise instead: some biased, some noisy,
a few wild (now and then a value far off). For pairwise projects, `lean_first` turns some honest workers
into ones with a position bias: they pick the first candidate ("a") more often than what they see warrants.

Two ways to use it:
- `simulate_labels(truth, crowd, overlap)`: pure, offline, vectorized; gives (items, workers, labels,
  active_ms) arrays for the quality code and benchmarks, no database or server.
- `run_crowd(base_url, project_id, tokens, crowd, ...)`: each worker is a thread labeling through the
  real HTTP API with `truthline.client.Client` (next -> submit), until the project has nothing left.
  Network errors (server restarting, connection reset) are retried with backoff; a submit is retried
  with the same idempotency key, so a retry never records a second label.
"""

from __future__ import annotations

import hashlib
import math
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from typing import TypeVar

import httpx
import numpy as np

from truthline.client import Client, TruthlineAPIError

__all__ = ["SimWorker", "NumericWorker", "make_crowd", "make_numeric_crowd", "lean_first", "simulate_labels",
           "run_crowd", "CrowdReport", "pseudo_truth", "pseudo_value"]

T = TypeVar("T")


def _with_retries(call: Callable[[], T], retries: int, backoff: float) -> T:
    """call(), retried up to `retries` times on network errors, waiting backoff, 2 x backoff, ... between."""
    for attempt in range(retries + 1):
        try:
            return call()
        except httpx.TransportError:
            if attempt == retries:
                raise
            time.sleep(backoff * 2**attempt)
    raise AssertionError("unreachable")


def _describe(exc: Exception) -> str:
    if isinstance(exc, httpx.TransportError):
        return f"network error ({type(exc).__name__}): {exc}"
    return str(exc)


@dataclass
class SimWorker:
    """One simulated worker: `confusion[t, l]` = P(answers l | true class t); `kind` honest|random|constant
    (pairwise crowds also: position, an honest worker leaning toward the first candidate)."""

    name: str
    confusion: np.ndarray
    median_ms: float
    kind: str = "honest"

    @property
    def accuracy(self) -> float:
        return float(np.mean(np.diag(self.confusion)))

    def answer(self, true_class: int, rng: np.random.Generator) -> int:
        return int(rng.choice(self.confusion.shape[1], p=self.confusion[true_class]))

    def active_ms(self, rng: np.random.Generator) -> int:
        return _active_ms(self.median_ms, rng)


def _active_ms(median_ms: float, rng: np.random.Generator) -> int:
    return max(1, int(rng.lognormal(np.log(median_ms), 0.4)))


@dataclass
class NumericWorker:
    """One simulated worker answering numbers: truth + `bias` + Normal(0, `noise`); with probability
    `wild_rate` a wild value instead, anywhere within `wild_spread` of the truth (a slip of a digit, a
    misread unit). Answers are written to `decimals` places and kept within [low, high], as the
    project's answer box would keep them. `kind` honest|biased|noisy|wild."""

    name: str
    bias: float
    noise: float
    median_ms: float
    kind: str = "honest"
    wild_rate: float = 0.0
    wild_spread: float = 0.0
    decimals: int = 0
    low: float = -math.inf
    high: float = math.inf

    def answer(self, truth: float, rng: np.random.Generator) -> int | float:
        if self.wild_rate and rng.random() < self.wild_rate:
            x = truth + rng.uniform(-1.0, 1.0) * self.wild_spread
        else:
            x = truth + self.bias + self.noise * rng.standard_normal()
        return written(x, self.decimals, self.low, self.high)

    def active_ms(self, rng: np.random.Generator) -> int:
        return _active_ms(self.median_ms, rng)


def written(x: float, decimals: int, low: float = -math.inf, high: float = math.inf) -> int | float:
    """`x` as a worker types it: rounded to `decimals` places (an int for 0), within [low, high]."""
    x = min(max(round(float(x), decimals), low), high)
    return int(x) if decimals == 0 and float(x).is_integer() else x


def make_crowd(
    n_workers: int,
    n_classes: int,
    *,
    seed: int = 0,
    spammer_fraction: float = 0.15,
    accuracy_beta: tuple[float, float] = (6.0, 2.5),
    median_ms: float = 2500.0,
    prefix: str = "sim",
) -> list[SimWorker]:
    """Draw a crowd. Honest accuracies ~ Beta(accuracy_beta) (mean ~0.7), floored above chance.

    Errors follow one class-similarity structure shared by the crowd (some pairs, e.g. 3/8 in digits,
    are confused far more than others), mixed with a little uniform noise per worker.
    """
    if n_workers < 1 or n_classes < 2:
        raise ValueError("make_crowd: need n_workers >= 1 and n_classes >= 2")
    rng = np.random.default_rng(seed)
    # Shared "looks alike" structure: sparse Dirichlet rows, zero diagonal.
    similar = rng.dirichlet(np.full(n_classes, 0.3), size=n_classes)
    np.fill_diagonal(similar, 0.0)
    similar /= similar.sum(axis=1, keepdims=True)
    uniform_off = (1.0 - np.eye(n_classes)) / (n_classes - 1)
    n_spam = int(round(n_workers * spammer_fraction))
    crowd: list[SimWorker] = []
    chance = 1.0 / n_classes
    for w in range(n_workers):
        speed = float(median_ms * rng.lognormal(0.0, 0.35))
        name = f"{prefix}-{w + 1:03d}"
        if w >= n_workers - n_spam:
            if w % 2 == 0:  # uniformly random clicker
                conf = np.full((n_classes, n_classes), chance)
                crowd.append(SimWorker(name, conf, speed * 0.6, "random"))
            else:  # always the same button
                conf = np.zeros((n_classes, n_classes))
                conf[:, int(rng.integers(n_classes))] = 1.0
                crowd.append(SimWorker(name, conf, speed * 0.5, "constant"))
            continue
        acc = rng.beta(*accuracy_beta, size=n_classes)
        acc = np.clip(chance + (1 - chance) * acc, chance + 0.05, 0.99)
        mix = rng.uniform(0.2, 0.8)
        errors = mix * similar + (1 - mix) * uniform_off
        conf = errors * (1 - acc)[:, None]
        conf[np.arange(n_classes), np.arange(n_classes)] = acc
        crowd.append(SimWorker(name, conf / conf.sum(axis=1, keepdims=True), speed, "honest"))
    return crowd


def lean_first(crowd: Sequence[SimWorker], *, fraction: float = 0.3, lean: tuple[float, float] = (0.3, 0.6),
               seed: int = 0) -> list[SimWorker]:
    """A pairwise crowd: about `fraction` of the honest workers (the first ones) get a position bias: with
    probability drawn from `lean` they answer "a" (class 0, the candidate shown first) whatever the pair, else
    as before. Shown in the item's own order, Dawid-Skene reads the bias off their confusion matrices (a column
    of "a"s), majority vote cannot; shown in random order (the default), it falls on both sides alike."""
    if not 0 <= fraction <= 1 or not 0 <= lean[0] <= lean[1] <= 1:
        raise ValueError("lean_first: need 0 <= fraction <= 1 and 0 <= lean[0] <= lean[1] <= 1")
    rng = np.random.default_rng([seed, 1])
    honest = [i for i, w in enumerate(crowd) if w.kind == "honest"]
    leaning = set(honest[: int(round(len(honest) * fraction))])
    out = []
    for i, w in enumerate(crowd):
        if i not in leaning:
            out.append(w)
            continue
        first = np.zeros_like(w.confusion)
        first[:, 0] = 1.0
        p = float(rng.uniform(*lean))
        out.append(SimWorker(w.name, (1 - p) * w.confusion + p * first, w.median_ms, "position"))
    return out


def make_numeric_crowd(
    n_workers: int,
    *,
    scale: float = 1.0,
    decimals: int = 0,
    low: float | None = None,
    high: float | None = None,
    seed: int = 0,
    wild_fraction: float = 0.15,
    median_ms: float = 2500.0,
    prefix: str = "sim",
) -> list[NumericWorker]:
    """Draw a crowd answering numbers. `scale` is how much the true values differ between items (the
    answers' units: 10 for counts from 0 to 40); biases and noises are fractions of it, so one crowd fits
    counts and prices alike. The last `wild_fraction` of the workers are wild (30-60% of their answers
    anywhere within 3 x scale of the truth); of the others about 30% are biased (off by 10-25% of scale,
    one way), 20% noisy (noise 15-30% of scale) and the rest honest (noise 2-6%)."""
    if n_workers < 1 or not scale > 0 or not 0 <= decimals <= 6 or not 0 <= wild_fraction <= 1:
        raise ValueError("make_numeric_crowd: need n_workers >= 1, scale > 0, 0 <= decimals <= 6 and "
                         "0 <= wild_fraction <= 1")
    rng = np.random.default_rng(seed)
    worker = partial(NumericWorker, decimals=decimals, low=-math.inf if low is None else low,
                     high=math.inf if high is None else high)  # everyone types into the same answer box
    n_wild = int(round(n_workers * wild_fraction))
    crowd: list[NumericWorker] = []
    for w in range(n_workers):
        speed = float(median_ms * rng.lognormal(0.0, 0.35))
        name = f"{prefix}-{w + 1:03d}"
        careful = float(rng.uniform(0.02, 0.06) * scale)  # the noise of a careful worker
        slight = float(rng.normal(0.0, 0.02) * scale)  # nobody is exactly unbiased
        if w >= n_workers - n_wild:
            rate = float(rng.uniform(0.3, 0.6))
            crowd.append(worker(name, slight, careful, speed * 0.6, "wild", wild_rate=rate, wild_spread=3 * scale))
            continue
        kind = rng.random()
        if kind < 0.3:
            off = float(rng.choice([-1.0, 1.0]) * rng.uniform(0.1, 0.25) * scale)
            crowd.append(worker(name, off, careful, speed, "biased"))
        elif kind < 0.5:
            crowd.append(worker(name, slight, float(rng.uniform(0.15, 0.3) * scale), speed * 0.8, "noisy"))
        else:
            crowd.append(worker(name, slight, careful, speed, "honest"))
    return crowd


def _distinct_workers(
    n_items: int, k: int, n_workers: int, weights: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """(n_items, k) worker indices, distinct within each row, drawn ∝ weights; redraws rows with repeats."""
    chosen = rng.choice(n_workers, size=(n_items, k), p=weights)
    for _ in range(1000):
        s = np.sort(chosen, axis=1)
        bad = np.flatnonzero((s[:, 1:] == s[:, :-1]).any(axis=1)) if k > 1 else np.zeros(0, dtype=np.int64)
        if bad.size == 0:
            return chosen
        chosen[bad] = rng.choice(n_workers, size=(bad.size, k), p=weights)
    raise RuntimeError("could not draw distinct workers per item; lower overlap or add workers")


def simulate_labels(
    truth: np.ndarray,
    crowd: Sequence[SimWorker],
    overlap: int | tuple[int, int] = 3,
    *,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Offline crowd labels for items with known true classes (no I/O; vectorized).

    `overlap` is labels per item, or an inclusive (lo, hi) range drawn per item. Faster workers label
    more items (chosen ∝ 1/median_ms). Returns int64 arrays items, workers, labels, active_ms.
    """
    truth = np.asarray(truth, dtype=np.int64)
    n_items, n_workers = truth.size, len(crowd)
    lo, hi = (overlap, overlap) if isinstance(overlap, int) else overlap
    if not 1 <= lo <= hi <= n_workers:
        raise ValueError(f"overlap: need 1 <= {lo} <= {hi} <= n_workers ({n_workers})")
    rng = np.random.default_rng(seed)
    speed = np.array([1.0 / w.median_ms for w in crowd])
    chosen = _distinct_workers(n_items, hi, n_workers, speed / speed.sum(), rng)
    per_item = rng.integers(lo, hi + 1, size=n_items)
    keep = np.arange(hi)[None, :] < per_item[:, None]
    items = np.broadcast_to(np.arange(n_items)[:, None], chosen.shape)[keep]
    workers = chosen[keep]
    cum = np.cumsum(np.stack([w.confusion for w in crowd]), axis=2)  # (W, K, K)
    cum[:, :, -1] = 1.0
    u = rng.random(items.size)
    labels = (u[:, None] >= cum[workers, truth[items]]).sum(axis=1)
    medians = np.array([w.median_ms for w in crowd])
    active = np.maximum(1, rng.lognormal(np.log(medians[workers]), 0.4)).astype(np.int64)
    return items.astype(np.int64), workers.astype(np.int64), labels.astype(np.int64), active


def pseudo_truth(external_id: str, n_classes: int) -> int:
    """A stable hidden class for an item whose truth nobody told us (so the crowd still agrees)."""
    return int.from_bytes(hashlib.sha256(external_id.encode()).digest()[:8], "big") % n_classes


def pseudo_value(external_id: str, low: float = 0.0, high: float = 100.0) -> float:
    """A stable hidden value in [low, high) for a numeric item whose truth nobody told us."""
    u = int.from_bytes(hashlib.sha256(external_id.encode()).digest()[:8], "big") / 2.0**64
    return low + u * (high - low)


@dataclass
class CrowdReport:
    """What `run_crowd` did: counts, wall time and per-request latencies in seconds."""

    submitted: int = 0
    errors: int = 0
    elapsed: float = 0.0
    next_latencies: list[float] = field(default_factory=list)
    submit_latencies: list[float] = field(default_factory=list)
    per_worker: dict[str, int] = field(default_factory=dict)
    first_error: str | None = None
    unreachable: httpx.TransportError | None = None  # the network error a worker gave up on, if any


def run_crowd(
    base_url: str,
    project_id: int,
    tokens: Mapping[str, str],
    crowd: Sequence[SimWorker] | Sequence[NumericWorker],
    labels: Sequence[str],
    *,
    truth_of: Callable[[dict], float | None] | None = None,
    max_submits: int | None = None,
    max_seconds: float | None = None,
    time_scale: float = 0.0,
    seed: int = 0,
    threads: int | None = None,
    on_submit: Callable[[], None] | None = None,
    retries: int = 5,
    backoff: float = 0.2,
) -> CrowdReport:
    """Label a project through the HTTP API: one thread per worker, next -> submit until none is left.

    `tokens` maps worker name -> bearer token. `truth_of(task)` gives the item's true class index (the
    server never reveals it); default: `pseudo_truth` of the external id. A numeric crowd
    (`make_numeric_crowd`) has no `labels` (pass []): `truth_of` gives the true value (default
    `pseudo_value`) and each worker's number is submitted as it is. `time_scale` > 0 sleeps
    active_ms * time_scale between tasks (1.0 = real human pace; 0 = as fast as the server allows).
    Stops at `max_submits` total or after `max_seconds`. A network error is retried `retries` times
    (waits of backoff, 2 x backoff, ...); after that it counts as an error and the worker stops.
    """
    report = CrowdReport()
    lock = threading.Lock()
    stop = threading.Event()
    deadline = time.perf_counter() + max_seconds if max_seconds else None
    k = len(labels)

    def work(index: int, worker: SimWorker | NumericWorker) -> None:
        rng = np.random.default_rng([seed, index])
        failures = 0
        with Client(base_url, tokens[worker.name]) as client:
            while not stop.is_set():
                if deadline is not None and time.perf_counter() > deadline:
                    break
                t0 = time.perf_counter()
                try:
                    task = _with_retries(partial(client.next_task, project_id), retries, backoff)
                except (TruthlineAPIError, httpx.TransportError) as exc:
                    with lock:
                        report.errors += 1
                        report.first_error = report.first_error or _describe(exc)
                        if isinstance(exc, httpx.TransportError):
                            report.unreachable = exc
                            stop.set()  # retried already: the server is gone for every worker
                    break
                t1 = time.perf_counter()
                if task is None:
                    break
                true = truth_of(task) if truth_of else None
                if true is None:
                    external_id = str(task["item"]["external_id"])
                    true = pseudo_truth(external_id, k) if k else pseudo_value(external_id)
                ms = worker.active_ms(rng)
                if time_scale > 0:
                    time.sleep(ms / 1000.0 * time_scale)
                with lock:  # reserve a submit slot so max_submits is never exceeded
                    full = max_submits is not None and report.submitted >= max_submits
                    if full:
                        stop.set()
                    else:
                        report.submitted += 1
                if full:
                    try:  # hand the item back instead of letting the lease lapse
                        client.release(task["lease_id"])
                    except (TruthlineAPIError, httpx.TransportError):
                        pass  # already expired or gone: nothing to give back
                    break
                t2 = time.perf_counter()
                given = worker.answer(true, rng)  # type: ignore[arg-type]  # a class index, or a number
                answer, key = labels[int(given)] if k else given, f"sim-{task['lease_id']}"
                try:
                    submit = partial(client.submit, task["lease_id"], answer, active_ms=ms, idempotency_key=key)
                    _with_retries(submit, retries, backoff)
                except (TruthlineAPIError, httpx.TransportError) as exc:
                    with lock:
                        report.submitted -= 1
                        report.errors += 1
                        report.first_error = report.first_error or _describe(exc)
                        if isinstance(exc, httpx.TransportError):
                            report.unreachable = exc
                            stop.set()  # retried already: the server is gone for every worker
                    failures += 1
                    if failures >= 10:  # something is systematically wrong; don't spin
                        break
                    continue
                t3 = time.perf_counter()
                with lock:
                    report.next_latencies.append(t1 - t0)
                    report.submit_latencies.append(t3 - t2)
                    report.per_worker[worker.name] = report.per_worker.get(worker.name, 0) + 1
                if on_submit is not None:
                    on_submit()

    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=threads or min(len(crowd), 256)) as pool:
        for future in [pool.submit(work, i, w) for i, w in enumerate(crowd)]:
            future.result()
    report.elapsed = time.perf_counter() - start
    return report
