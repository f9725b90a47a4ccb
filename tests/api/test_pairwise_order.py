"""A pairwise project's candidates in random order: each lease shows A and B in an order drawn for it (the task
never says which), the answer means the candidate shown there, and it is stored as the item's own a/b, so a
lean toward the first candidate falls on both sides alike. `random_order: false` shows the imported order."""

from __future__ import annotations

from typing import Any

from tests.pairs import press, swapped

N = 40  # leases: both orders appear unless 40 fair coins all fall alike (a chance of 2 in 10^12)


def _arena(manager: Any, n: int = N, **spec: Any) -> tuple[int, dict[str, dict[str, Any]]]:
    r = manager.post("/projects", json={"name": "Order", "task_type": "pairwise", "ties": True, **spec})
    assert r.status_code == 201, r.text
    pid = int(r.json()["id"])
    assert manager.post(f"/projects/{pid}/members", json={"username": "ann"}).status_code == 201
    items = {f"p{i}": {"text": f"prompt {i}", "a": f"good {i}", "b": f"poor {i}", "a_id": "good", "b_id": "poor"}
             for i in range(n)}
    body = [{"external_id": k, "data": data} for k, data in items.items()]
    for start in range(0, n, 10):  # the test server takes 4 KB per request
        assert manager.post(f"/projects/{pid}/items", json=body[start:start + 10]).status_code == 200
    return pid, items


def test_random_order_is_the_default_and_a_setting(manager: Any, assert_error: Any) -> None:
    pid, _ = _arena(manager, n=1)
    assert manager.get(f"/projects/{pid}").json()["random_order"] is True
    r = manager.patch(f"/projects/{pid}", json={"random_order": False})
    assert r.status_code == 200 and r.json()["random_order"] is False and r.json()["ties"] is True
    assert manager.patch(f"/projects/{pid}", json={"random_order": True}).json()["random_order"] is True
    assert_error(manager.patch(f"/projects/{pid}", json={"random_order": "yes"}), 422, field="random_order")
    cats = manager.post("/projects", json={"name": "Cats", "labels": ["cat", "dog"], "random_order": True})
    says = assert_error(cats, 422, field="random_order")["message"]
    assert "pairwise" in says
    plain = manager.post("/projects", json={"name": "Dogs", "labels": ["cat", "dog"]}).json()
    assert plain["random_order"] is None


def test_each_lease_draws_an_order_and_answers_are_stored_as_the_items_own(manager: Any, ann: Any) -> None:
    pid, items = _arena(manager)
    orders = []
    while (r := ann.post(f"/projects/{pid}/next")).status_code == 200:
        task = r.json()
        item, shown = items[task["item"]["external_id"]], task["item"]["data"]
        assert set(shown) == {"text", "a", "b"} and {shown["a"], shown["b"]} == {item["a"], item["b"]}
        again = ann.post(f"/projects/{pid}/next").json()  # asked again: the same lease, the same order
        assert (again["lease_id"], again["item"]) == (task["lease_id"], task["item"])
        orders.append(swapped(item, shown))
        pressed = press("a", item, shown)  # the good one, wherever it is shown
        key = f"k{task['lease_id']}"
        r = ann.post(f"/leases/{task['lease_id']}/submit", json={"answer": pressed.upper(), "idempotency_key": key})
        assert r.status_code == 201 and r.json()["answer"] == pressed  # as given, not as stored
        replay = ann.post(f"/leases/{task['lease_id']}/submit", json={"answer": pressed, "idempotency_key": key})
        assert replay.status_code == 200 and replay.json()["answer"] == pressed
        unkeyed = ann.post(f"/leases/{task['lease_id']}/submit", json={"answer": pressed})  # the stored one
        assert unkeyed.status_code == 200 and unkeyed.json()["answer"] == pressed
    assert len(orders) == N and 0 < sum(orders) < N
    rows = manager.get(f"/projects/{pid}/results", params={"method": "mv"}).json()["results"]
    assert {row["answer"] for row in rows} == {"a"} and len(rows) == N
    ranking = manager.get(f"/projects/{pid}/ranking", params={"method": "mv"}).json()["ranking"]
    assert [(row["id"], row["wins"]) for row in ranking] == [("good", N), ("poor", 0)]


def test_ties_stay_ties_in_either_order(manager: Any, ann: Any) -> None:
    pid, _ = _arena(manager, n=6)
    while (r := ann.post(f"/projects/{pid}/next")).status_code == 200:
        lease = r.json()["lease_id"]
        assert ann.post(f"/leases/{lease}/submit", json={"answer": "tie"}).json()["answer"] == "tie"
    rows = manager.get(f"/projects/{pid}/results", params={"method": "mv"}).json()["results"]
    assert [row["answer"] for row in rows] == ["tie"] * 6


def test_without_random_order_every_lease_shows_the_imported_order(manager: Any, ann: Any) -> None:
    pid, items = _arena(manager, n=12, random_order=False)
    seen = 0
    while (r := ann.post(f"/projects/{pid}/next")).status_code == 200:
        task = r.json()
        assert not swapped(items[task["item"]["external_id"]], task["item"]["data"])
        assert ann.post(f"/leases/{task['lease_id']}/submit", json={"answer": "b"}).json()["answer"] == "b"
        seen += 1
    assert seen == 12
    rows = manager.get(f"/projects/{pid}/results", params={"method": "mv"}).json()["results"]
    assert {row["answer"] for row in rows} == {"b"}


def test_turning_the_order_off_keeps_live_leases_as_they_were_shown(manager: Any, ann: Any) -> None:
    """The order is the lease's, drawn when it was taken: a change of the setting does not turn round the
    meaning of an answer to a task already on someone's screen."""
    pid, items = _arena(manager)
    held = []
    for _ in range(N // 2):  # two live leases at a time: take, note the order, answer after the change
        first = ann.post(f"/projects/{pid}/next").json()
        second = ann.post(f"/projects/{pid}/next", json={"held": [first["lease_id"]]}).json()
        assert manager.patch(f"/projects/{pid}", json={"random_order": False}).status_code == 200
        for task in (first, second):
            item, shown = items[task["item"]["external_id"]], task["item"]["data"]
            held.append(swapped(item, shown))
            r = ann.post(f"/leases/{task['lease_id']}/submit", json={"answer": press("a", item, shown)})
            assert r.status_code == 201, r.text
        assert manager.patch(f"/projects/{pid}", json={"random_order": True}).status_code == 200
    assert 0 < sum(held) < N
    rows = manager.get(f"/projects/{pid}/results", params={"method": "mv"}).json()["results"]
    assert {row["answer"] for row in rows} == {"a"}


def test_workers_show_who_picks_the_first_candidate(manager: Any, ann: Any, ann2: Any) -> None:
    pid, items = _arena(manager, overlap=2)
    assert manager.post(f"/projects/{pid}/members", json={"username": "ann2"}).status_code == 201
    while (r := ann.post(f"/projects/{pid}/next")).status_code == 200:  # clicks the first, whatever it says
        assert ann.post(f"/leases/{r.json()['lease_id']}/submit", json={"answer": "a"}).status_code == 201
    shown_first = 0
    while (r := ann2.post(f"/projects/{pid}/next")).status_code == 200:  # reads them
        task = r.json()
        item, shown = items[task["item"]["external_id"]], task["item"]["data"]
        shown_first += not swapped(item, shown)
        r = ann2.post(f"/leases/{task['lease_id']}/submit", json={"answer": press("a", item, shown)})
        assert r.status_code == 201
    workers = {w["username"]: w for w in manager.get(f"/projects/{pid}/workers").json()["workers"]}
    assert (workers["ann"]["ordered_answers"], workers["ann"]["first_picks"], workers["ann"]["leans_first"]) == (
        N, N, True)
    assert (workers["ann2"]["ordered_answers"], workers["ann2"]["first_picks"]) == (N, shown_first)
    quality = manager.get(f"/projects/{pid}/quality").json()["workers"]
    assert {w["username"]: w["first_picks"] for w in quality} == {"ann": N, "ann2": shown_first}
    csv = manager.get(f"/projects/{pid}/workers", params={"format": "csv"}).text.splitlines()
    assert csv[0].endswith(",ordered_answers,first_picks,leans_first")
    assert any(line.startswith("ann,") and line.endswith(f",{N},{N},True") for line in csv)
    cats = manager.post("/projects", json={"name": "Cats", "labels": ["cat", "dog"]}).json()["id"]
    assert manager.post(f"/projects/{cats}/items", json=[{"external_id": "c", "data": {"text": "x"}}]).is_success
    assert manager.post(f"/projects/{cats}/members", json={"username": "ann"}).status_code == 201
    lease = ann.post(f"/projects/{cats}/next").json()["lease_id"]
    assert ann.post(f"/leases/{lease}/submit", json={"answer": "cat"}).status_code == 201
    other = manager.get(f"/projects/{cats}/workers").json()["workers"][0]
    assert "first_picks" not in other and "leans_first" not in other  # pairwise only


def test_the_tasks_key_order_is_the_same_in_either_order(manager: Any, ann: Any) -> None:
    """A swapped task renames the item's keys: kept in the item's own key order, "b" would come where "a"
    stood, telling a client that reads the JSON which order it was shown. The candidates' keys come in one
    order, where the item's first one stood, the rest as imported."""
    r = manager.post("/projects", json={"name": "Keys", "task_type": "pairwise", "overlap": 1})
    pid = int(r.json()["id"])
    assert manager.post(f"/projects/{pid}/members", json={"username": "ann"}).status_code == 201
    body = [{"external_id": f"k{i}", "data": {"b_image_url": f"/b/{i}.png", "text": "q", "a_image_url": f"/a/{i}.png",
                                               "note": "n", "a_id": "x", "b_id": "y"}} for i in range(N)]
    for start in range(0, N, 10):
        assert manager.post(f"/projects/{pid}/items", json=body[start:start + 10]).status_code == 200
    keys, orders = set(), []
    while (r := ann.post(f"/projects/{pid}/next")).status_code == 200:
        shown = r.json()["item"]["data"]
        keys.add(tuple(shown))
        orders.append(shown["a_image_url"].startswith("/b/"))
        assert ann.post(f"/leases/{r.json()['lease_id']}/submit", json={"answer": "a"}).status_code == 201
    assert 0 < sum(orders) < N
    assert keys == {("a_image_url", "b_image_url", "text", "note")}
