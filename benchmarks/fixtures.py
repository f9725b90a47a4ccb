"""Benchmark data: JSONL item files and a SQLite database set up through the service layer."""

from __future__ import annotations

import json
import time
from pathlib import Path
import numpy as np


def write_jsonl(path: Path, n: int, prefix: str = "it") -> None:
    """`n` text items (~100 bytes each), written in blocks so memory stays flat."""
    words = np.array("the quick brown fox jumps over a lazy dog while seven wizards box".split())
    rng = np.random.default_rng(0)
    with path.open("w", encoding="utf-8") as fh:
        for start in range(0, n, 50_000):
            stop = min(n, start + 50_000)
            picks = words[rng.integers(0, words.size, size=(stop - start, 8))]
            fh.write("".join(
                json.dumps({"external_id": f"{prefix}-{i}", "data": {"text": " ".join(picks[i - start])}}) + "\n"
                for i in range(start, stop)
            ))


class BenchDB:
    """A fresh migrated database with an admin; helpers call the same services the CLI does."""

    def __init__(self, url: str) -> None:
        from truthline.services import users
        from truthline.store.db import make_engine, upgrade

        self.url = url
        self.engine = make_engine(url)
        upgrade(self.engine)
        self.admin, _ = users.init_admin(self.engine, "bench-admin", "bench-admin-password")
        self._n_users = 0

    def project(self, name: str, overlap: int, labels: tuple[str, ...] = ("a", "b", "c", "d", "e")) -> int:
        from truthline.services import projects

        spec = {"name": name, "task_type": "classification", "labels": list(labels), "overlap": overlap}
        return int(projects.create_project(self.engine, self.admin, spec).id)

    def import_file(self, pid: int, path: Path) -> float:
        """Seconds to read and import a JSONL file (what `truthline import` does)."""
        from truthline.services import importing

        t0 = time.perf_counter()
        with path.open("rb") as fh:
            importing.import_items(self.engine, self.admin, pid, importing.read_records(fh, "jsonl"))
        return time.perf_counter() - t0

    def annotators(self, pid: int, n: int) -> list[str]:
        """`n` new annotators of project `pid`, as API tokens."""
        from truthline.services import projects, users

        tokens = []
        for _ in range(n):
            self._n_users += 1
            name = f"bench-annotator-{self._n_users}"
            user = users.create_user(self.engine, self.admin, name, None)
            projects.add_member(self.engine, self.admin, pid, name, "annotator")
            tokens.append(users.create_token(self.engine, user, name="bench"))
        return tokens

    def fill_labels(self, pid: int, ext_ids: list[str], per_item: int) -> int:
        """Give each item `per_item` labels from distinct workers (bulk label import); returns the count."""
        from truthline.services import label_import

        rng = np.random.default_rng(0)
        answers = rng.integers(0, 5, size=(len(ext_ids), per_item))
        records = (
            {"external_id": ext, "worker": f"bench-labeler-{k}", "answer": "abcde"[answers[n, k]], "active_ms": 1000 + k}
            for n, ext in enumerate(ext_ids)
            for k in range(per_item)
        )
        report = label_import.import_annotations(
            self.engine, self.admin, pid, enumerate(records, start=1), create_workers=True
        )
        return int(report.created)

    def close(self) -> None:
        self.engine.dispose()
