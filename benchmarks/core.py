"""Core throughput benchmarks on SQLite: `make bench` (full, < ~5 min) or `python benchmarks/core.py --quick`.

Measures, against Label Studio 1.23.2's figures on the same machine (issue #2):
  submits/s and submit p50/p99 with 8 concurrent HTTP clients against a real uvicorn server,
  next-task p50/p99 on a 1M-item project, JSONL import items/s, export of 100k labeled items
  (seconds, peak RSS of the exporting process), Dawid-Skene on 500k labels; and submits while a manager
  reloads the quality page of the export project, with truth inference in the server process or offloaded.
Every loop is bounded by a count and a time limit. Writes benchmarks/results/core.md and prints it.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # run from a checkout without installing
sys.path.insert(0, str(HERE))

from fixtures import BenchDB, write_jsonl  # noqa: E402
from server import uvicorn_process  # noqa: E402

from truthline.client import Client  # noqa: E402

LOAD_BEFORE = os.getloadavg()[0]  # other work on the machine skews every figure: reported in the table
FULL = {"big_items": 1_000_000, "import_items": 200_000, "export_items": 100_000, "export_labels": 3,
        "submit_seconds": 20.0, "submit_max": 100_000, "next_calls": 1000, "ds_items": 100_000,
        "ds_workers": 1000, "ds_overlap": 5, "import_budget_s": 150.0, "offload_min_labels": 20_000}
QUICK = {"big_items": 20_000, "import_items": 20_000, "export_items": 5_000, "export_labels": 3,
         "submit_seconds": 4.0, "submit_max": 5_000, "next_calls": 200, "ds_items": 10_000,
         "ds_workers": 100, "ds_overlap": 5, "import_budget_s": 30.0, "offload_min_labels": 1_000}


def pct(xs: list[float], q: float) -> float:
    return 1000.0 * float(np.percentile(np.asarray(xs), q)) if xs else float("nan")


def bench_ds(cfg: dict[str, Any]) -> dict[str, Any]:
    from truthline.quality import CrowdLabels, aggregate
    from truthline.sim import make_crowd, simulate_labels

    rng = np.random.default_rng(0)
    truth = rng.integers(0, 5, cfg["ds_items"])
    crowd = make_crowd(cfg["ds_workers"], 5, seed=1)
    items, workers, labels, _ = simulate_labels(truth, crowd, cfg["ds_overlap"], seed=2)
    data = CrowdLabels.from_arrays(items, workers, labels, n_items=truth.size, n_workers=len(crowd), n_classes=5)
    times = []
    for _ in range(3):
        t0 = time.perf_counter()
        result = aggregate(data, method="ds")
        times.append(time.perf_counter() - t0)
    acc_ds = float((result.answers == truth).mean())
    acc_mv = float((aggregate(data, method="mv").answers == truth).mean())
    return {"ds_seconds": min(times), "ds_labels": int(items.size), "ds_acc": acc_ds, "mv_acc": acc_mv}


def bench_import(bench: BenchDB, cfg: dict[str, Any], tmp: Path) -> dict[str, Any]:
    """Time `truthline import`'s service path on a JSONL file; then fill the big next-task project."""
    small = tmp / "import.jsonl"
    write_jsonl(small, cfg["import_items"], prefix="imp")
    pid = bench.project("import bench", overlap=3)
    seconds = bench.import_file(pid, small)
    rate = cfg["import_items"] / seconds
    # The 1M-item project: as big as the import budget allows (bounded by time), normally all of it.
    target = int(min(cfg["big_items"], rate * cfg["import_budget_s"]))
    big = tmp / "big.jsonl"
    write_jsonl(big, target, prefix="big")
    big_pid = bench.project("next-task bench", overlap=1)
    big_seconds = bench.import_file(big_pid, big)
    big.unlink()
    return {"import_rate": rate, "import_items": cfg["import_items"], "big_pid": big_pid, "big_items": target,
            "big_import_rate": target / big_seconds}


def _loop(client: Client, pid: int, stop: threading.Event, deadline: float, budget: list[int], lock: threading.Lock,
          nexts: list[float], submits: list[float]) -> None:
    while not stop.is_set() and time.perf_counter() < deadline:
        with lock:
            if budget[0] <= 0:
                return
            budget[0] -= 1
        t0 = time.perf_counter()
        task = client.next_task(pid)
        t1 = time.perf_counter()
        if task is None:
            return
        client.submit(task["lease_id"], "a", active_ms=1000)
        t2 = time.perf_counter()
        nexts.append(t1 - t0)
        submits.append(t2 - t1)


def _clients_loop(url: str, tokens: list[str], pid: int, cfg: dict[str, Any]) -> dict[str, Any]:
    """8 concurrent clients, each looping next -> submit, for cfg["submit_seconds"]."""
    clients = [Client(url, tok) for tok in tokens]
    stop, lock = threading.Event(), threading.Lock()
    budget = [cfg["submit_max"]]
    n8: list[float] = []
    s8: list[float] = []
    deadline = time.perf_counter() + cfg["submit_seconds"]
    threads = [threading.Thread(target=_loop, args=(c, pid, stop, deadline, budget, lock, n8, s8)) for c in clients]
    t0, cpu0 = time.perf_counter(), time.process_time()
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    elapsed = time.perf_counter() - t0
    for c in clients:
        c.close()
    return {"client_cpu": (time.process_time() - cpu0) / elapsed,  # cores the HTTP clients themselves used
            "submits": len(s8), "submit_rate": len(s8) / elapsed, "submit_p50": pct(s8, 50), "submit_p99": pct(s8, 99),
            "next8_p50": pct(n8, 50), "next8_p99": pct(n8, 99)}


def bench_http(bench: BenchDB, cfg: dict[str, Any], big_pid: int) -> dict[str, Any]:
    tokens = bench.annotators(big_pid, 9)
    out: dict[str, Any] = {}
    with uvicorn_process(bench.url) as url:
        # 1) next-task latency, one client, sequential (as Label Studio's 212 ms p50 was measured).
        with Client(url, tokens[8]) as c:
            for _ in range(20):  # warm up connections and caches
                t = c.next_task(big_pid)
                if t:
                    c.submit(t["lease_id"], "a", active_ms=1)
            nexts: list[float] = []
            deadline = time.perf_counter() + 30
            for _ in range(cfg["next_calls"]):
                if time.perf_counter() > deadline:
                    break
                t0 = time.perf_counter()
                t = c.next_task(big_pid)
                nexts.append(time.perf_counter() - t0)
                if t:
                    c.submit(t["lease_id"], "a", active_ms=1)
        out["next_p50"], out["next_p99"], out["next_n"] = pct(nexts, 50), pct(nexts, 99), len(nexts)
        # 2) 8 concurrent clients against one server process (`truthline serve`).
        out.update(_clients_loop(url, tokens[:8], big_pid, cfg))
    # 3) the same against two server processes (`truthline serve --workers 2`: one per core here).
    with uvicorn_process(bench.url, workers=2) as url:
        out["workers2"] = _clients_loop(url, tokens[:8], big_pid, cfg)
    return out


def _manager_loop(url: str, token: str, pid: int, stop: threading.Event, loads: list[float]) -> None:
    """A manager reloading the quality page's figures until `stop` (new labels arrive between loads)."""
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=300) as c:
        while not stop.is_set():
            t0 = time.perf_counter()
            c.get(f"/api/v1/projects/{pid}/quality").raise_for_status()
            loads.append(time.perf_counter() - t0)


def bench_manager_load(bench: BenchDB, cfg: dict[str, Any], pid: int) -> dict[str, Any]:
    """8 clients label the export project (one more label per item) while a manager reloads its quality
    page, which reruns `auto` over its labels each time: with inference in the server process and with it
    offloaded to the lower-priority child (the default), against the clients alone."""
    from truthline.services import users

    tokens, manager = bench.annotators(pid, 8), users.create_token(bench.engine, bench.admin, name="manager")
    out: dict[str, Any] = {}
    for mode, offload in (("inline", "0"), ("offloaded", str(cfg["offload_min_labels"]))):
        with uvicorn_process(bench.url, env={"TRUTHLINE_OFFLOAD_MIN_LABELS": offload}) as url:
            if mode == "offloaded":
                out["alone"] = _clients_loop(url, tokens, pid, cfg)
            stop, loads = threading.Event(), []
            page = threading.Thread(target=_manager_loop, args=(url, manager, pid, stop, loads))
            page.start()
            try:
                out[mode] = _clients_loop(url, tokens, pid, cfg)
            finally:
                stop.set()
                page.join()
            out[mode]["page_loads"], out[mode]["page_p50"] = len(loads), pct(loads, 50) / 1000
    return out


def bench_export(bench: BenchDB, cfg: dict[str, Any], tmp: Path) -> dict[str, Any]:
    # one label per item short of its overlap: the manager-load bench adds it
    pid = bench.project("export bench", overlap=cfg["export_labels"] + 1)
    src = tmp / "export-items.jsonl"
    write_jsonl(src, cfg["export_items"], prefix="exp")
    bench.import_file(pid, src)
    ext_ids = [f"exp-{i}" for i in range(cfg["export_items"])]
    n_labels = bench.fill_labels(pid, ext_ids, cfg["export_labels"])
    out_file = tmp / "export.jsonl"
    result: dict[str, Any] = {}
    for method in ("auto", "mv"):  # auto: the default (model selection + EM); mv isolates the I/O path
        probe = subprocess.run(
            [sys.executable, str(HERE / "export_probe.py"), bench.url, str(pid), str(out_file), "jsonl", method],
            check=True, capture_output=True, text=True, timeout=600,
        )
        result[method] = json.loads(probe.stdout)
    result.update(export_items=cfg["export_items"], export_labels=n_labels, export_mb=out_file.stat().st_size / 2**20,
                  export_pid=pid)
    return result


def ratio(ours: float, theirs: float, higher_better: bool) -> str:
    if not (ours and theirs) or ours != ours:
        return "–"
    r = ours / theirs if higher_better else theirs / ours
    return f"{r:,.0f}x" if r >= 10 else f"{r:,.1f}x"


def _ms(p50: float, p99: float) -> str:
    return f"{p50:.1f} / {p99:.1f} ms"


def _loaded(m: dict[str, Any]) -> str:
    return (f"{m['submit_rate']:,.0f}/s, {_ms(m['submit_p50'], m['submit_p99'])}"
            f" ({m['page_loads']} page loads, {m['page_p50']:.1f} s each)")


def table(r: dict[str, Any], quick: bool, elapsed: float) -> str:
    """The Markdown report: one row per measurement, with its target and Label Studio's figure."""
    ok = lambda good: "yes" if good else "**no**"  # noqa: E731
    auto, mv, w2, man = r["auto"], r["mv"], r["workers2"], r["manager"]
    big = r["big_items"]
    rows = [
        ("Submits/s, 8 concurrent HTTP clients (next+submit loop)",
         f"{r['submit_rate']:,.0f}/s (the clients alone use {r['client_cpu']:.1f} cores)",
         ">= 1,000/s", ok(r["submit_rate"] >= 1000), "8.6/s", ratio(r["submit_rate"], 8.6, True)),
        ("Submit latency p50 / p99, 8 clients", _ms(r["submit_p50"], r["submit_p99"]),
         "p99 < 25 ms", ok(r["submit_p99"] < 25), "p99 1,960 ms", ratio(r["submit_p99"], 1960, False)),
        ("Same, two server processes (`serve --workers 2`): submits/s, latency p50 / p99",
         f"{w2['submit_rate']:,.0f}/s, {_ms(w2['submit_p50'], w2['submit_p99'])}",
         ">= 1,000/s, p99 < 25 ms", ok(w2["submit_rate"] >= 1000 and w2["submit_p99"] < 25), "8.6/s",
         ratio(w2["submit_rate"], 8.6, True)),
        (f"Next-task p50 / p99, {big:,}-item project (1 client)", _ms(r["next_p50"], r["next_p99"]),
         "p99 < 10 ms (1M items)", ok(r["next_p99"] < 10 and big >= 1_000_000),
         "p50 212 ms (100k)", ratio(r["next_p50"], 212, False)),
        ("Next-task p50 / p99 under 8 concurrent clients", _ms(r["next8_p50"], r["next8_p99"]), "–", "–", "–", "–"),
        (f"Import from JSONL ({r['import_items']:,} items)", f"{r['import_rate']:,.0f} items/s",
         ">= 60,000/s", ok(r["import_rate"] >= 60000), "2,000-2,800/s", ratio(r["import_rate"], 2400, True)),
        (f"Export {r['export_items']:,} items + {r['export_labels']:,} labels (JSONL, default method)",
         f"{auto['seconds']:.2f} s, peak RSS {auto['peak_rss_mb']:.0f} MB (before: {auto['baseline_rss_mb']:.0f} MB)",
         "< 2 s, flat memory", ok(auto["seconds"] < 2), "219 s", ratio(auto["seconds"], 219, False)),
        ("Same export with --method mv (no EM: the I/O path alone)",
         f"{mv['seconds']:.2f} s, peak RSS {mv['peak_rss_mb']:.0f} MB",
         "< 2 s", ok(mv["seconds"] < 2), "219 s", ratio(mv["seconds"], 219, False)),
        (f"Submits/s, p50 / p99, 8 clients labelling the {r['export_items']:,}-item export project while a manager"
         " reloads its quality page (`auto` over every label each time)",
         f"alone {man['alone']['submit_rate']:,.0f}/s, {_ms(man['alone']['submit_p50'], man['alone']['submit_p99'])};"
         f" inference in the server process {_loaded(man['inline'])};"
         f" offloaded (default) {_loaded(man['offloaded'])}",
         "–", "–", "–", "–"),
        (f"Dawid-Skene, {r['ds_labels']:,} labels",
         f"{r['ds_seconds']:.2f} s (accuracy DS {r['ds_acc']:.3f} vs MV {r['mv_acc']:.3f})",
         "< 0.4 s", ok(r["ds_seconds"] < 0.4), "n/a", "–"),
    ]
    head = "| Benchmark | Truthline | Target | Met | Label Studio 1.23.2 | Truthline vs LS |\n|---|---|---|---|---|---|\n"
    body = "".join("| " + " | ".join(row) + " |\n" for row in rows)
    mode = "QUICK smoke run: sizes reduced, targets apply to the full run" if quick else "full run"
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    command = "python benchmarks/core.py" + (" --quick" if quick else "")
    return (
        "<!-- generated by benchmarks/core.py; do not edit by hand -->\n"
        f"# Truthline core benchmarks ({mode})\n\n"
        f"SQLite (WAL), {os.cpu_count()} CPUs, Python {platform.python_version()}, {when}; load average before the"
        f" run {LOAD_BEFORE:.1f}; total {elapsed:.0f} s. Command: `make bench` (`{command}`).\n"
        "Label Studio figures: issue #2, measured on this machine (SQLite, 2 cores).\n\n" + head + body
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, about a minute: a smoke test of the harness")
    parser.add_argument("--out", type=Path, default=HERE / "results" / "core.md")
    parser.add_argument("--keep", action="store_true", help="keep the temporary database")
    args = parser.parse_args()
    cfg = QUICK if args.quick else FULL
    start = time.perf_counter()
    results: dict[str, Any] = {}
    tmp = Path(tempfile.mkdtemp(prefix="truthline-bench-"))
    try:
        step = lambda name: print(f"[{time.perf_counter() - start:6.1f}s] {name}", flush=True)  # noqa: E731
        step("Dawid-Skene")
        results.update(bench_ds(cfg))
        bench = BenchDB(f"sqlite:///{tmp / 'bench.db'}")
        step("import")
        results.update(bench_import(bench, cfg, tmp))
        step(f"export ({cfg['export_items']:,} items)")
        results.update(bench_export(bench, cfg, tmp))
        step("HTTP: next-task and 8-client submits")
        results.update(bench_http(bench, cfg, results["big_pid"]))
        step("HTTP: submits while a manager reloads the quality page")
        results["manager"] = bench_manager_load(bench, cfg, results["export_pid"])
        bench.close()
    finally:
        if args.keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    text = table(results, args.quick, time.perf_counter() - start)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    args.out.with_suffix(".json").write_text(json.dumps(results, indent=1, default=str))  # raw figures
    print(text)


if __name__ == "__main__":
    main()
