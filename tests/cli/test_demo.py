"""The demo seed: PNG encoding, digit records with hidden truth, idempotent seeding that shows DS > MV."""

from __future__ import annotations

import base64
import struct
import zlib

import numpy as np
import sqlalchemy as sa
from scipy.stats import kendalltau
from sqlalchemy.engine import Engine

from truthline.demo import (
    CROWD_OPTIONS,
    DEMO_LOGINS,
    N_SIM_WORKERS,
    SIM_OVERLAP,
    crowd_items,
    digit_records,
    encode_png,
    png_data_url,
    seed_demo,
)
from truthline.demo_arena import CROWD_SHARE as ARENA_SHARE
from truthline.demo_arena import MODELS, N_PROMPTS, seed_arena
from truthline.demo_arena import OVERLAP as ARENA_OVERLAP
from truthline.quality import CrowdLabels, aggregate
from truthline.services import projects, ranking, results, tasks, users
from truthline.sim import make_crowd, simulate_labels


def decode_png(blob: bytes) -> np.ndarray:
    """Minimal PNG reader for what encode_png writes (8-bit grayscale, filter 0), checking every CRC."""
    assert blob[:8] == b"\x89PNG\r\n\x1a\n"
    pos, chunks = 8, {}
    while pos < len(blob):
        (length,) = struct.unpack(">I", blob[pos : pos + 4])
        kind, body = blob[pos + 4 : pos + 8], blob[pos + 8 : pos + 8 + length]
        (crc,) = struct.unpack(">I", blob[pos + 8 + length : pos + 12 + length])
        assert crc == zlib.crc32(kind + body) & 0xFFFFFFFF
        chunks[kind] = chunks.get(kind, b"") + body
        pos += 12 + length
    w, h, depth, color, _, _, _ = struct.unpack(">IIBBBBB", chunks[b"IHDR"])
    assert (depth, color) == (8, 0) and b"IEND" in chunks
    raw = zlib.decompress(chunks[b"IDAT"])
    rows = np.frombuffer(raw, dtype=np.uint8).reshape(h, w + 1)
    assert (rows[:, 0] == 0).all()
    return rows[:, 1:]


def test_encode_png_round_trips() -> None:
    pixels = np.arange(6 * 5, dtype=np.uint8).reshape(6, 5) * 8
    assert (decode_png(encode_png(pixels)) == pixels).all()


def test_digit_is_enlarged_dark_on_white() -> None:
    image = np.zeros((8, 8))
    image[3, 4] = 16
    url = png_data_url(image, scale=8)
    assert url.startswith("data:image/png;base64,")
    pixels = decode_png(base64.b64decode(url.split(",", 1)[1]))
    assert pixels.shape == (64, 64)
    assert pixels[0, 0] == 255 and pixels[3 * 8 + 2, 4 * 8 + 5] == 0


def test_digit_records_carry_hidden_truth() -> None:
    records, truth = digit_records(limit=30)
    assert len(records) == 30 and truth.shape == (30,)
    assert {r["truth"] for r in records} <= {str(d) for d in range(10)}
    assert all("truth" not in r["data"] and "gold" not in r for r in records)
    assert records[7]["external_id"] == "digit-0007" and records[7]["truth"] == str(truth[7])


def _labels(engine: Engine) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    with engine.connect() as conn:
        rows = conn.execute(sa.text(
            "SELECT a.item_id, a.user_id, a.answer, i.truth FROM annotations a JOIN items i ON i.id = a.item_id "
            "WHERE i.external_id LIKE 'digit-%'"  # the digits, not the model arena
        )).all()
    items = np.unique([r[0] for r in rows], return_inverse=True)[1]
    workers = np.unique([r[1] for r in rows], return_inverse=True)[1]
    answers = np.array([int(str(r[2]).strip('"')) for r in rows])
    truth_by_item = {r[0]: int(str(r[3]).strip('"')) for r in rows}
    truth = np.array([truth_by_item[k] for k in sorted(truth_by_item)])
    return items, workers, answers, truth


def test_seed_demo_is_idempotent(engine: Engine) -> None:
    info = seed_demo(engine, limit=60)
    n_crowd = crowd_items(60)
    assert info.n_items == 60 and info.n_labels_seeded == n_crowd * SIM_OVERLAP
    again = seed_demo(engine, limit=60)
    assert again.project_id == info.project_id and again.n_labels_seeded == 0
    assert again.arena.project_id == info.arena.project_id and again.arena.n_labels_seeded == 0
    admin = users.first_admin(engine)
    assert admin is not None and admin.username == "admin"
    assert users.authenticate(engine, "annotator", DEMO_LOGINS["annotator"]).username == "annotator"
    assert projects.get_project(engine, admin, info.project_id).overlap == SIM_OVERLAP
    assert [p.id for p in projects.list_projects(engine, admin)] == [info.project_id, info.arena.project_id]
    items, workers, answers, truth = _labels(engine)
    assert np.bincount(items).tolist() == [SIM_OVERLAP] * n_crowd  # the crowd's share, fully labeled
    assert workers.max() >= 10  # spread over the crowd
    person = users.get_user_by_name(engine, admin, "annotator")
    task = tasks.next_task(engine, person, info.project_id)  # the rest waits for people
    assert task is not None and int(task.external_id.split("-")[1]) >= n_crowd


def test_demo_crowd_makes_ds_beat_mv() -> None:
    """The demo's crowd on all 1,797 digits at the demo's overlap: DS clearly beats MV against the truth."""
    _, truth = digit_records()
    crowd = make_crowd(N_SIM_WORKERS, 10, **CROWD_OPTIONS)
    items, workers, answers, _ = simulate_labels(truth, crowd, SIM_OVERLAP, seed=0)
    data = CrowdLabels.from_arrays(items, workers, answers, n_items=truth.size, n_classes=10)
    acc = {m: float((aggregate(data, method=m).answers == truth).mean()) for m in ("mv", "ds")}
    assert acc["ds"] > acc["mv"] + 0.05, acc


def test_demo_on_a_database_with_its_own_admin_prints_only_working_logins(engine: Engine) -> None:
    users.init_admin(engine, "root", "root-password")
    info = seed_demo(engine, limit=20)
    assert set(info.logins) == {"manager", "annotator"}
    assert users.first_admin(engine).username == "root"  # type: ignore[union-attr]


def test_the_model_arena_ranks_the_models_by_how_often_they_are_right(engine: Engine) -> None:
    info = seed_demo(engine, limit=20).arena  # the arena takes all its prompts: too few would rank nothing
    assert info.n_items == 20 and info.n_labels_seeded == int(20 * ARENA_SHARE) * ARENA_OVERLAP
    full = seed_arena(engine, users.first_admin(engine))
    assert full.project_id == info.project_id and full.n_items == N_PROMPTS
    manager = users.get_user_by_name(engine, users.first_admin(engine), "manager")
    ranked = [row["id"] for row in ranking.project_ranking(engine, manager, info.project_id)["ranking"]]
    assert ranked[0] == "atlas-70b" and ranked[-1] == "fog-350m", ranked
    assert kendalltau([list(MODELS).index(name) for name in ranked], range(len(MODELS)))[0] > 0.7
    person = users.get_user_by_name(engine, users.first_admin(engine), "annotator")
    task = tasks.next_task(engine, person, info.project_id)  # the rest waits for people, blind
    assert task is not None and set(task.data) == {"text", "a", "b"}
    assert results.project_summary(engine, manager, info.project_id)["accuracy"]["ds"] > 0.8
