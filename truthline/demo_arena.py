"""The demo's model arena: a pairwise project comparing six made-up models' replies to arithmetic questions.

Each model gets a sum right with its own accuracy (from 92% down to 20%) and otherwise answers a near miss.
Each prompt shows two models' replies; the better reply is the right one (a tie where both are right or both
wrong), stored as hidden `truth`. A simulated crowd (some spammers) labels the first 85% of the prompts, imported
like the digits' labels; the rest waits for the annotator, who sees the replies but never which model wrote
them. The manager page then ranks the models with intervals and shows them head to head: the ranking should
come out in the order of the accuracies below.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from sqlalchemy.engine import Engine

from truthline.services import importing, label_import, projects
from truthline.sim import make_crowd, simulate_labels

ARENA_NAME = "Model arena (demo)"
# made-up models and how often each gets a sum right
MODELS = {"atlas-70b": 0.92, "borealis-13b": 0.8, "cirrus-7b": 0.65, "drizzle-3b": 0.5, "echo-1b": 0.35,
          "fog-350m": 0.2}
N_PROMPTS = 300
OVERLAP = 3
CROWD_SHARE = 0.85
N_WORKERS = 12
CLASSES = ("a", "b", "tie")
GUIDELINES = """\
Two assistants answered the same arithmetic question. Which reply is better?

- Work the sum out yourself. Press 1 if A is right and B is not, 2 if B is right and A is not.
- Press 3 (tie) when both are right or both are wrong.
"""


@dataclass
class ArenaInfo:
    project_id: int
    n_items: int
    n_labels_seeded: int


def _reply(x: int, y: int, right: bool, rng: np.random.Generator) -> str:
    total = x + y
    if not right:  # a near miss: a carry dropped or added
        total += int(rng.choice([-10, -2, -1, 1, 2, 10]))
    return f"{x} + {y} = {total}."


def arena_records(n: int = N_PROMPTS, seed: int = 0) -> tuple[list[dict], np.ndarray]:
    """`n` prompts as item records (data: the question, replies a and b, a_id and b_id; truth: the better
    reply), and the truth as class indices into CLASSES."""
    rng = np.random.default_rng([seed, 7])
    names = list(MODELS)
    records, truth = [], []
    for k in range(n):
        first, second = rng.choice(len(names), 2, replace=False)
        x, y = (int(v) for v in rng.integers(10, 100, 2))
        right = [bool(rng.random() < MODELS[names[m]]) for m in (first, second)]
        better = "tie" if right[0] == right[1] else "a" if right[0] else "b"
        records.append({"external_id": f"sum-{k:03d}", "truth": better,
                        "data": {"text": f"What is {x} + {y}?", "a": _reply(x, y, right[0], rng),
                                 "b": _reply(x, y, right[1], rng), "a_id": names[first], "b_id": names[second]}})
        truth.append(CLASSES.index(better))
    return records, np.array(truth, dtype=np.int64)


def arena_labels(records: list[dict], truth: np.ndarray, seed: int = 0) -> list[dict]:
    """The simulated crowd's labels for the first CROWD_SHARE of the prompts (deterministic per seed)."""
    n = int(len(records) * CROWD_SHARE)
    crowd = make_crowd(N_WORKERS, len(CLASSES), seed=seed, spammer_fraction=0.2, prefix="arena")
    items, workers, answers, active = simulate_labels(truth[:n], crowd, OVERLAP, seed=seed)
    return [{"external_id": records[i]["external_id"], "worker": crowd[w].name, "answer": CLASSES[a],
             "active_ms": int(ms)}
            for i, w, a, ms in zip(items.tolist(), workers.tolist(), answers.tolist(), active.tolist(), strict=True)]


def seed_arena(engine: Engine, admin: object, *, seed: int = 0, limit: int | None = None,
               progress: Callable[[str, int, int], None] | None = None) -> ArenaInfo:
    """Create (or complete) the arena project; idempotent like the digits. `limit`: only the first prompts."""
    report = progress or (lambda stage, done, total: None)
    existing = [p for p in projects.list_projects(engine, admin) if p.name == ARENA_NAME]
    project = existing[0] if existing else projects.create_project(engine, admin, {
        "name": ARENA_NAME, "task_type": "pairwise", "ties": True, "guidelines": GUIDELINES, "overlap": OVERLAP,
        "pay_cents": 3})
    pid = int(project.id)
    projects.add_member(engine, admin, pid, "manager", "manager")  # upserts: safe to repeat
    projects.add_member(engine, admin, pid, "annotator", "annotator")
    records, truth = arena_records(min(limit, N_PROMPTS) if limit else N_PROMPTS, seed)
    report("arena", 0, len(records))
    importing.import_items(engine, admin, pid, enumerate(records, start=1))
    labels = arena_labels(records, truth, seed)
    result = label_import.import_annotations(engine, admin, pid, enumerate(labels, start=1), create_workers=True)
    report("arena", len(records), len(records))
    return ArenaInfo(pid, len(records), result.created)
