"""Loaders for the quality benchmark: the real sets in ../shared/datasets and a synthetic crowd.

Shared by `benchmarks/quality.py` (Truthline side) and `benchmarks/quality_crowdkit.py` (crowd-kit
side) so both see the same integer indices. Standard library + NumPy only.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

DATASETS_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "datasets"
SET_NAMES = ["D_Product", "S_Dog", "S_Rel", "rte", "web", "ZC_in"]


@dataclass
class LabelSet:
    name: str
    items: np.ndarray
    workers: np.ndarray
    labels: np.ndarray
    n_items: int
    n_workers: int
    n_classes: int
    truth: np.ndarray  # (n_items,) int64, -1 where unknown


# column names accepted in a set's files (the README's first, then common crowd-kit/Toloka spellings)
COLUMNS = {"item": ("item", "task", "item_id", "task_id"), "worker": ("worker", "worker_id", "annotator", "performer"),
           "label": ("label", "answer"), "truth": ("truth", "true_label", "gold", "label")}


def _rows(path: Path, wanted: tuple[str, ...]) -> list[dict[str, str]]:
    """The CSV's rows as {wanted name: cell}, each wanted column found under any of its COLUMNS spellings.

    UTF-8 (with or without a byte-order mark); a file that is not is read as Latin-1, as older
    crowdsourcing sets often are (ids only need to stay distinct)."""
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")
    with io.StringIO(text, newline="") as fh:
        reader = csv.DictReader(fh)
        header = [h.strip() for h in reader.fieldnames or []]
        found = {}
        for name in wanted:
            match = next((h for h in COLUMNS[name] if h in header), None)
            if match is None:
                raise ValueError(f"{path}: no {name} column (expected one of {', '.join(COLUMNS[name])}; found {header})")
            found[name] = match
        reader.fieldnames = header
        rows = []
        for row in reader:
            if any(row[col] is None for col in found.values()):
                raise ValueError(f"{path}: line {reader.line_num} has fewer cells than the header")
            rows.append({name: row[col].strip() for name, col in found.items()})
        return rows


def _spelling(labels: set[str]) -> Callable[[str], str]:
    """truth value -> the answers' spelling of the same class ("1.0" -> "1", as pandas writes floats)."""
    by_number: dict[float | None, str] = {}
    for v in labels:
        by_number.setdefault(_float(v), v)
    by_number.pop(None, None)  # text labels have no number
    return lambda v: v if v in labels else by_number.get(_float(v), v)


def _float(v: str) -> float | None:
    try:
        return float(v)
    except ValueError:
        return None


def load_real(name: str, root: Path = DATASETS_DIR) -> LabelSet:
    """A set's answers.csv (item,worker,label) and truth.csv (item,truth) as compact integer arrays.

    Classes are the distinct values seen in answers and truth, in order (numerically when all are
    integers), so a set labelled 1..K or with text labels gets no empty class."""
    folder = root / name
    rows = _rows(folder / "answers.csv", ("item", "worker", "label"))
    truth_rows = _rows(folder / "truth.csv", ("item", "truth"))
    item_ids = {v: i for i, v in enumerate(sorted({r["item"] for r in rows}))}
    worker_ids = {v: i for i, v in enumerate(sorted({r["worker"] for r in rows}))}
    spelling = _spelling({r["label"] for r in rows})
    truth_rows = [{**r, "truth": spelling(r["truth"])} for r in truth_rows]
    values = {r["label"] for r in rows} | {r["truth"] for r in truth_rows if r["item"] in item_ids}
    numeric = all(v.lstrip("-").isdigit() for v in values)
    class_ids = {v: i for i, v in enumerate(sorted(values, key=int if numeric else str))}
    items = np.array([item_ids[r["item"]] for r in rows], dtype=np.int64)
    workers = np.array([worker_ids[r["worker"]] for r in rows], dtype=np.int64)
    labels = np.array([class_ids[r["label"]] for r in rows], dtype=np.int64)
    truth = np.full(len(item_ids), -1, dtype=np.int64)
    for r in truth_rows:
        i = item_ids.get(r["item"])
        if i is not None:
            truth[i] = class_ids[r["truth"]]
    # a set no accuracy can be computed on is refused here, so the run skips it instead of failing later
    if not rows:
        raise ValueError(f"{folder / 'answers.csv'}: no answers")
    if len(class_ids) < 2:
        raise ValueError(f"{folder}: every answer and truth is {next(iter(class_ids))!r}: one class, nothing to infer")
    if not (truth >= 0).any():
        raise ValueError(f"{folder / 'truth.csv'}: none of its items has an answer in answers.csv")
    return LabelSet(name, items, workers, labels, len(item_ids), len(worker_ids), len(class_ids), truth)


def available_sets(root: Path = DATASETS_DIR) -> list[str]:
    """Every folder of `root` holding answers.csv and truth.csv: the six known sets first, in the
    README's order, then any others by name (so a set dropped in is benchmarked too)."""
    if not root.is_dir():
        return []
    found = {d.name for d in root.iterdir() if (d / "answers.csv").is_file() and (d / "truth.csv").is_file()}
    return [n for n in SET_NAMES if n in found] + sorted(found - set(SET_NAMES))


def published_ebcc(root: Path = DATASETS_DIR) -> dict[str, float]:
    """EBCC's published accuracy per set, from the "EBCC (published)" column of the data sets' README
    table ("–" cells and a missing README give no figure)."""
    readme = root / "README.md"
    if not readme.is_file():
        return {}
    out: dict[str, float] = {}
    column = None
    for line in readme.read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if not line.lstrip().startswith("|"):
            column = None
        elif "EBCC (published)" in cells:
            column = cells.index("EBCC (published)")
        elif column is not None and len(cells) > column:
            try:
                out[cells[0]] = float(cells[column])
            except ValueError:
                continue  # the |---| line, or a "–" cell
    return out


def synthetic(
    n_items: int = 100_000,
    n_workers: int = 1_000,
    n_classes: int = 5,
    per_item: int = 5,
    spammer_share: float = 0.1,
    seed: int = 0,
) -> LabelSet:
    """A crowd with per-worker confusion matrices: honest workers 60-95% accurate, ~10% uniform spammers."""
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, n_classes, n_items)
    acc = rng.uniform(0.6, 0.95, n_workers)
    conf = np.empty((n_workers, n_classes, n_classes))
    for w in range(n_workers):
        off = rng.dirichlet(np.ones(n_classes - 1), size=n_classes) * (1 - acc[w])
        for k in range(n_classes):
            row = np.insert(off[k], k, acc[w])
            conf[w, k] = row
    spam = rng.random(n_workers) < spammer_share
    conf[spam] = 1.0 / n_classes
    items = np.repeat(np.arange(n_items), per_item)
    # distinct workers per item
    workers = np.argsort(rng.random((n_items, n_workers)), axis=1)[:, :per_item].ravel() if n_items * n_workers <= 5e6 else _distinct(rng, n_items, n_workers, per_item)
    cum = conf[workers, truth[items]].cumsum(axis=1)
    labels = (rng.random(len(items))[:, None] > cum).sum(axis=1)
    labels = np.minimum(labels, n_classes - 1).astype(np.int64)
    return LabelSet("synthetic", items.astype(np.int64), workers.astype(np.int64), labels, n_items, n_workers, n_classes, truth.astype(np.int64))


def _distinct(rng: np.random.Generator, n_items: int, n_workers: int, per_item: int) -> np.ndarray:
    out = rng.integers(0, n_workers, (n_items, per_item))
    for _ in range(20):
        s = np.sort(out, axis=1)
        dup = (s[:, 1:] == s[:, :-1]).any(axis=1)
        if not dup.any():
            break
        out[dup] = rng.integers(0, n_workers, (int(dup.sum()), per_item))
    return out.ravel()


# Crowds of different kinds, each favouring a different model, to check that `auto` holds up beyond
# the six real sets: name -> what it is (the generator below builds them in this order).
REGIMES = {
    "homog-sparse": "2 classes, 600 equally good workers (70%), ~10 labels each, 3 per item: MV's home ground",
    "one-coin": "4 classes, 50 workers 40-90% accurate with symmetric errors, 5 per item",
    "asym-conf": "3 classes, 50 workers with skewed confusion matrices (DS's model), 5 per item",
    "difficulty": "2 classes, 40 workers, items of varying difficulty (GLAD-like), 5 per item",
    "spammers-30": "3 classes, 60 workers of whom 30% always answer class 0 (MACE's model), 5 per item",
    "adversarial": "2 classes, 40 workers of whom 6 flip every answer, 5 per item",
    "imbalance-9-1": "2 classes with 90/10 truth, 40 workers with asymmetric errors, 5 per item",
    "two-labels": "3 classes, 100 workers, only 2 labels per item",
    "zipf-workers": "3 classes, 300 workers whose label counts follow Zipf's law, 4 per item",
    "good-crowd": "5 classes, 30 workers 85-97% accurate, 3 per item",
    "ten-classes": "10 classes, 44 workers 40-90% accurate whose errors each fall on a few classes, 4 per item",
    "shared-errors": "2 classes (25% positive), 30 workers; on the 30% of negatives that are hard, the 70% sloppy "
                     "workers answer positive 3 times in 4 (ZenCrowd-like correlated errors), 5 per item",
}


def _one_coin(acc: np.ndarray, k: int) -> np.ndarray:
    conf = np.repeat(((1 - acc) / (k - 1))[:, None, None], k, axis=1).repeat(k, axis=2)
    conf[:, np.arange(k), np.arange(k)] = acc[:, None]
    return conf


def _skewed(rng: np.random.Generator, n_workers: int, k: int, lo: float, hi: float, conc: float = 1.0) -> np.ndarray:
    """Per-worker confusion matrices: accuracy in [lo, hi], errors spread by a Dirichlet(conc)."""
    acc = rng.uniform(lo, hi, n_workers)
    off = rng.dirichlet(np.full(k - 1, conc), size=(n_workers, k)) * (1 - acc)[:, None, None]
    conf = np.empty((n_workers, k, k))
    for t in range(k):
        conf[:, t] = np.insert(off[:, t], t, acc, axis=1)
    return conf


def _crowd(
    rng: np.random.Generator, name: str, n_items: int, conf: np.ndarray, per_item: int,
    prior: list[float] | None = None, easiness: np.ndarray | None = None, zipf: bool = False,
) -> LabelSet:
    n_workers, k, _ = conf.shape
    truth = rng.choice(k, n_items, p=prior)
    items = np.repeat(np.arange(n_items), per_item)
    p = None
    if zipf:
        p = 1.0 / np.arange(1, n_workers + 1) ** 1.1
        p /= p.sum()
    workers = np.concatenate([rng.choice(n_workers, per_item, replace=False, p=p) for _ in range(n_items)])
    probs = conf[workers, truth[items]]
    if easiness is not None:  # a hard item's labels are partly uniform noise, for every worker
        e = easiness[items][:, None]
        probs = e * probs + (1 - e) / k
    labels = np.minimum((rng.random(len(items))[:, None] > probs.cumsum(axis=1)).sum(axis=1), k - 1)
    return LabelSet(name, items.astype(np.int64), workers.astype(np.int64), labels.astype(np.int64),
                    n_items, n_workers, k, truth.astype(np.int64))


def regimes(seed: int = 0) -> list[LabelSet]:
    """One synthetic crowd per entry of REGIMES (~3-15k labels each), deterministic for a seed."""
    rng = np.random.default_rng(seed)
    spam = _skewed(rng, 60, 3, 0.6, 0.9)
    spam[rng.random(60) < 0.3] = np.array([1.0, 0.0, 0.0])  # every row: always class 0
    flip = _one_coin(rng.uniform(0.6, 0.9, 40), 2)
    flip[:6] = flip[:6, :, ::-1]
    return [
        _crowd(rng, "homog-sparse", 2000, _one_coin(np.full(600, 0.7), 2), 3),
        _crowd(rng, "one-coin", 2000, _one_coin(rng.uniform(0.4, 0.9, 50), 4), 5),
        _crowd(rng, "asym-conf", 2000, _skewed(rng, 50, 3, 0.5, 0.9, conc=0.3), 5),
        _crowd(rng, "difficulty", 2000, _one_coin(rng.uniform(0.6, 0.9, 40), 2), 5, easiness=rng.beta(1.0, 0.6, 2000)),
        _crowd(rng, "spammers-30", 2000, spam, 5),
        _crowd(rng, "adversarial", 2000, flip, 5),
        _crowd(rng, "imbalance-9-1", 3000, _skewed(rng, 40, 2, 0.65, 0.9), 5, prior=[0.9, 0.1]),
        _crowd(rng, "two-labels", 3000, _one_coin(rng.uniform(0.55, 0.9, 100), 3), 2),
        _crowd(rng, "zipf-workers", 3000, _skewed(rng, 300, 3, 0.5, 0.9), 4, zipf=True),
        _crowd(rng, "good-crowd", 2000, _one_coin(rng.uniform(0.85, 0.97, 30), 5), 3),
        # drawn last, so the crowds above stay as they were (and crowd-kit's cached answers with them)
        _crowd(rng, "ten-classes", 700, _skewed(rng, 44, 10, 0.4, 0.9, conc=0.3), 4),
        shared_errors(rng, "shared-errors", 2000, 30, 5),
    ]


def shared_errors(rng: np.random.Generator, name: str, n_items: int, n_workers: int, per_item: int) -> LabelSet:
    """Errors correlated across workers: 25% positives; 30% of the negatives are hard, and there the 70%
    sloppy workers answer positive 3 times in 4 (careful ones stay right). Also the tests' crowd for EBCC."""
    truth = (rng.random(n_items) < 0.25).astype(np.int64)
    hard = (truth == 0) & (rng.random(n_items) < 0.3)
    sloppy = rng.random(n_workers) < 0.7
    items = np.repeat(np.arange(n_items), per_item)
    workers = np.concatenate([rng.choice(n_workers, per_item, replace=False) for _ in range(n_items)])
    p_positive = np.where(truth[items] == 1, 0.8, np.where(hard[items] & sloppy[workers], 0.75, 0.1))
    labels = (rng.random(len(items)) < p_positive).astype(np.int64)
    return LabelSet(name, items.astype(np.int64), workers.astype(np.int64), labels, n_items, n_workers, 2, truth)


# Crowds with many classes or many workers: where BCC's and EBCC's fits get costly, so `auto` must leave
# them out to stay fast. name -> (items, workers, classes, labels per item, Zipf-distributed workers)
WIDE = {
    "50 classes, 2,000 workers": (20_000, 2_000, 50, 5, False),
    "100 classes, 100 workers": (10_000, 100, 100, 5, False),
    "20 classes, 1,000 workers": (100_000, 1_000, 20, 3, False),
    "4 classes, 30,000 workers (Zipf)": (40_000, 30_000, 4, 5, True),
    "300 classes, 500 workers, 10 items per class": (3_000, 500, 300, 3, False),
}


def wide_crowds(seed: int = 0) -> list[LabelSet]:
    """One crowd per entry of WIDE: one-coin workers 50-95% accurate, errors uniform over the other classes."""
    rng = np.random.default_rng(seed)
    out = []
    for name, (n_items, n_workers, k, per_item, zipf) in WIDE.items():
        p = None
        if zipf:
            p = 1.0 / np.arange(1, n_workers + 1) ** 1.1
            p /= p.sum()
        workers = rng.choice(n_workers, (n_items, per_item), p=p)
        for _ in range(50):  # redraw the rows that name a worker twice
            s = np.sort(workers, axis=1)
            dup = (s[:, 1:] == s[:, :-1]).any(axis=1)
            if not dup.any():
                break
            workers[dup] = rng.choice(n_workers, (int(dup.sum()), per_item), p=p)
        truth = rng.integers(0, k, n_items)
        items = np.repeat(np.arange(n_items), per_item)
        acc = rng.uniform(0.5, 0.95, n_workers)
        right = rng.random(len(items)) < acc[workers.ravel()]
        labels = np.where(right, truth[items], (truth[items] + rng.integers(1, k, len(items))) % k)
        out.append(LabelSet(name, items, workers.ravel().astype(np.int64), labels.astype(np.int64),
                            n_items, n_workers, k, truth.astype(np.int64)))
    return out
