"""crowd-kit side of the quality benchmark (runs in the separate `.venv-bench`, see requirements-quality.txt).

Usage: python benchmarks/quality_crowdkit.py OUT.json SET.npz [SET.npz ...] [--methods=MV,DS,...] [--repeats=N]
Each .npz holds items, workers, labels (int arrays). Writes, per set and method, the answers
(one per item index, -1 where crowd-kit gave none) and the fit time in seconds (best of N runs).
"""

from __future__ import annotations

import json
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from crowdkit import aggregation as ck

warnings.filterwarnings("ignore")

METHODS = {
    "MV": lambda: ck.MajorityVote(),
    "Wawa": lambda: ck.Wawa(),
    "OneCoinDS": lambda: ck.OneCoinDawidSkene(),
    "DS": lambda: ck.DawidSkene(n_iter=100),
    # DS run to 100 iterations: crowd-kit's default stops as soon as its ELBO dips (after 4 on ZC_in)
    "DS100": lambda: ck.DawidSkene(n_iter=100, tol=-1e300),
    "GLAD": lambda: ck.GLAD(),
    "MACE": lambda: ck.MACE(),
    "ZBS": lambda: ck.ZeroBasedSkill(),
    "KOS": lambda: ck.KOS(),  # two classes only
    "MMSR": lambda: ck.MMSR(),
}


def run(path: Path, names: list[str], repeats: int = 1) -> dict:
    z = np.load(path)
    n_items = int(z["n_items"])
    df = pd.DataFrame({"task": z["items"], "worker": z["workers"], "label": z["labels"]})
    out: dict = {}
    for name in names:
        times, cpu = [], []
        try:
            for _ in range(repeats):
                model = METHODS[name]()
                t, c = time.perf_counter(), time.process_time()
                labels = model.fit_predict(df)
                times.append(time.perf_counter() - t)
                cpu.append(time.process_time() - c)
        except Exception as exc:  # record and go on: one failing method must not sink the run
            out[name] = {"error": f"{type(exc).__name__}: {exc}"}
            continue
        dt = min(times)
        answers = np.full(n_items, -1, dtype=np.int64)
        answers[labels.index.to_numpy(dtype=np.int64)] = labels.to_numpy(dtype=np.int64)
        out[name] = {"answers": answers.tolist(), "seconds": dt, "cpu_seconds": min(cpu)}
        print(f"  crowd-kit {path.stem} {name}: {dt:.2f}s", file=sys.stderr, flush=True)
    return out


def main(argv: list[str]) -> None:
    names = list(METHODS)
    repeats = 1
    args = []
    for a in argv:
        if a.startswith("--methods="):
            names = a.split("=", 1)[1].split(",")
        elif a.startswith("--repeats="):
            repeats = int(a.split("=", 1)[1])
        else:
            args.append(a)
    out_path, sets = Path(args[0]), [Path(p) for p in args[1:]]
    result = {p.stem: run(p, names, repeats) for p in sets}
    out_path.write_text(json.dumps(result))


if __name__ == "__main__":
    main(sys.argv[1:])
