"""The demo: scikit-learn's handwritten digits as a labeling project, with a simulated crowd's labels.

`seed_demo(engine)` is idempotent: it creates what is missing (users, project, items) and resumes
labeling where a previous run stopped. Each item's real digit is stored as hidden `truth` (compared
against, never shown to annotators, never used by truth inference), so the manager page shows how
Dawid-Skene and majority vote each fare against it. A simulated crowd's labels (`sim.simulate_labels`:
own confusion matrices and speeds, some spammers) cover the first 85% of the digits, imported in bulk
with `services.label_import` (the same path as migrating labels from another tool); the rest waits for
people who log in as annotators. A second project, a model arena (`demo_arena`), ranks made-up models from
pairwise comparisons of their replies.
"""

from __future__ import annotations

import base64
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from sqlalchemy.engine import Engine

from truthline.demo_arena import ArenaInfo, seed_arena
from truthline.errors import NotFound, Unauthorized
from truthline.services import importing, label_import, projects, users
from truthline.sim import make_crowd, simulate_labels

__all__ = [
    "DEMO_LOGINS", "DemoInfo", "crowd_items", "crowd_labels", "digit_records", "encode_png", "png_data_url", "seed_demo",
]

PROJECT_NAME = "Handwritten digits (demo)"
SIM_OVERLAP = 3  # the project's overlap: labels wanted per item
CROWD_SHARE = 0.85  # of the items, labeled by the simulated crowd; the rest waits for people
N_SIM_WORKERS = 20
# A fifth of the crowd are spammers: enough that majority vote visibly suffers and Dawid-Skene doesn't.
CROWD_OPTIONS = {"seed": 0, "spammer_fraction": 0.2, "accuracy_beta": (8.0, 2.0), "prefix": "sim"}
# Local demo only (serve binds 127.0.0.1): fixed passwords so they can be printed and typed.
DEMO_LOGINS = {"admin": "admin-demo", "manager": "manager-demo", "annotator": "annotator-demo"}

GUIDELINES = """\
Which digit (0-9) is drawn? Each image is an 8x8 scan from scikit-learn's handwritten digits, enlarged.

- Press the number key of the digit, then Enter.
- If you honestly cannot tell, pick your best guess; press S to skip an unreadable image.
"""


def encode_png(pixels: np.ndarray) -> bytes:
    """A grayscale 8-bit PNG (zlib + struct only) from a 2-D uint8 array."""
    h, w = pixels.shape
    raw = b"".join(b"\x00" + row.tobytes() for row in np.ascontiguousarray(pixels, dtype=np.uint8))

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0)  # 8-bit grayscale, no interlace
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")


def png_data_url(image: np.ndarray, scale: int = 8) -> str:
    """A digit image (values 0..16, ink high) as an enlarged dark-on-white PNG data URL."""
    ink = np.asarray(image, dtype=np.float64) / 16.0
    pixels = (255 - np.round(ink * 255)).astype(np.uint8)
    big = np.kron(pixels, np.ones((scale, scale), dtype=np.uint8))
    return "data:image/png;base64," + base64.b64encode(encode_png(big)).decode("ascii")


def digit_records(limit: int | None = None) -> tuple[list[dict], np.ndarray]:
    """Item records for the 1,797 digits (or the first `limit`), hidden truth included, and the true classes."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    truth = np.asarray(digits.target, dtype=np.int64)[:limit]
    records = [
        {
            "external_id": f"digit-{i:04d}",
            "data": {"image": png_data_url(img), "text": f"Digit scan #{i}"},
            "truth": str(int(truth[i])),
        }
        for i, img in enumerate(digits.images[:limit])
    ]
    return records, truth


@dataclass
class DemoInfo:
    project_id: int
    n_items: int
    n_labels_seeded: int
    logins: dict[str, str]
    arena: ArenaInfo  # the second demo project: models compared pairwise (demo_arena)


def _ensure_user(engine: Engine, admin: object, username: str, password: str | None, role: str = "member") -> object:
    try:
        return users.get_user_by_name(engine, admin, username)
    except NotFound:
        return users.create_user(engine, admin, username, password, role=role)


def _ensure_member(engine: Engine, admin: object, project_id: int, username: str, role: str) -> None:
    projects.add_member(engine, admin, project_id, username, role)  # an upsert: safe to repeat


def seed_demo(
    engine: Engine,
    *,
    seed: int = 0,
    limit: int | None = None,
    progress: Callable[[str, int, int], None] | None = None,
) -> DemoInfo:
    """Create (or complete) the demo on a migrated database; `limit` seeds only the first digits (tests).

    `progress(stage, done, total)` reports work as it goes.
    """
    report = progress or (lambda stage, done, total: None)
    admin = users.first_admin(engine)
    if admin is None:
        admin, _token = users.init_admin(engine, "admin", DEMO_LOGINS["admin"])
    _ensure_user(engine, admin, "manager", DEMO_LOGINS["manager"])
    _ensure_user(engine, admin, "annotator", DEMO_LOGINS["annotator"])

    existing = [p for p in projects.list_projects(engine, admin) if p.name == PROJECT_NAME]
    if existing:
        project = existing[0]
    else:
        spec = {
            "name": PROJECT_NAME,
            "task_type": "classification",
            "labels": [str(d) for d in range(10)],
            "guidelines": GUIDELINES,
            "overlap": SIM_OVERLAP,
            "pay_cents": 2,
        }
        project = projects.create_project(engine, admin, spec)
    pid = int(project.id)
    _ensure_member(engine, admin, pid, "manager", "manager")
    _ensure_member(engine, admin, pid, "annotator", "annotator")

    records, truth = digit_records(limit)
    report("import", 0, len(records))
    importing.import_items(engine, admin, pid, enumerate(records, start=1))
    report("import", len(records), len(records))

    labels = crowd_labels(records, truth, seed)
    report("label", 0, len(labels))
    result = label_import.import_annotations(engine, admin, pid, enumerate(labels, start=1), create_workers=True)
    report("label", len(labels), len(labels))
    arena = seed_arena(engine, admin, seed=seed, limit=limit, progress=report)
    return DemoInfo(pid, len(records), result.created, _working_logins(engine), arena)


def crowd_items(n_items: int) -> int:
    """How many of the first items the simulated crowd labels."""
    return int(n_items * CROWD_SHARE)


def crowd_labels(records: list[dict], truth: np.ndarray, seed: int = 0) -> list[dict]:
    """The simulated crowd's label records for the first `crowd_items` digits (deterministic per seed)."""
    n = crowd_items(len(records))
    crowd = make_crowd(N_SIM_WORKERS, 10, **{**CROWD_OPTIONS, "seed": seed})
    items, workers, answers, active = simulate_labels(truth[:n], crowd, SIM_OVERLAP, seed=seed)
    return [
        {"external_id": records[i]["external_id"], "worker": crowd[w].name, "answer": str(a), "active_ms": int(ms)}
        for i, w, a, ms in zip(items.tolist(), workers.tolist(), answers.tolist(), active.tolist(), strict=True)
    ]


def _working_logins(engine: Engine) -> dict[str, str]:
    """The demo logins that really work here (a database with its own admin keeps its password private)."""
    working = {}
    for username, password in DEMO_LOGINS.items():
        try:
            users.authenticate(engine, username, password)
        except Unauthorized:
            continue
        working[username] = password
    return working
