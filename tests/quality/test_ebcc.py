import numpy as np
import pytest

from truthline.quality import CrowdLabels, QualityInputError, aggregate, ebcc

from crowd_data import shared_errors, simulate


def _acc(r, truth: np.ndarray) -> float:
    return float((r.answers == truth).mean())


def test_subtypes_absorb_shared_errors() -> None:
    data, truth = shared_errors(seed=0)
    e, ds, bcc = (aggregate(data, m) for m in ("ebcc", "ds", "bcc"))
    assert _acc(e, truth) >= max(_acc(ds, truth), _acc(bcc, truth)) + 0.02
    # DS calls the hard negatives positive; EBCC's share of positives stays closer to the truth's
    assert abs(e.answers.mean() - truth.mean()) < abs(ds.answers.mean() - truth.mean())


def test_outputs_are_consistent() -> None:
    data, truth = simulate(n_items=300, n_workers=12, k=3, seed=4)
    r = ebcc.fit(data, subtypes=4)
    assert _acc(r, truth) > 0.9 and r.converged
    v = r.worker_params["subtype_confusion"]
    assert v.shape == (12, 3, 4, 3)
    np.testing.assert_allclose(v.sum(axis=3), 1.0)
    np.testing.assert_allclose(r.worker_params["subtype_share"].sum(axis=1), 1.0)
    np.testing.assert_allclose(r.worker_params["confusion"].sum(axis=2), 1.0)
    np.testing.assert_allclose(r.item_params["subtypes"].sum(axis=2), r.posteriors, atol=1e-9)
    # the predictive probabilities of the K possible answers to any (item, worker) sum to 1
    items, workers = np.repeat(np.arange(5), 3), np.tile(np.arange(3), 5)
    probe = [CrowdLabels.from_arrays(items, workers, np.full(15, lab), n_items=300, n_workers=12, n_classes=3) for lab in range(3)]
    np.testing.assert_allclose(sum(ebcc.predictive(r, p) for p in probe), 1.0)


def test_dropping_empty_subtypes_changes_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    data, _ = shared_errors(seed=1)
    known = {0: 1, 5: 0}
    widths: list[int] = []  # columns of each E-step's softmax
    softmax = ebcc.softmax_rows_f32

    def recording(logp: np.ndarray, *args: object) -> tuple[np.ndarray, np.ndarray]:
        widths.append(logp.shape[1])
        return softmax(logp, *args)

    monkeypatch.setattr(ebcc, "softmax_rows_f32", recording)
    pruned = ebcc.fit(data, known)
    assert widths[0] == 20 and widths[-1] <= 10  # most of the 2 x 10 (class, subtype) columns were dropped
    widths.clear()
    monkeypatch.setattr(ebcc, "DEAD_MASS", 0.0)  # every column kept to the end
    full = ebcc.fit(data, known)
    assert set(widths) == {20} and pruned.iterations == full.iterations
    np.testing.assert_allclose(pruned.posteriors, full.posteriors, atol=1e-6)
    np.testing.assert_allclose(pruned.item_params["subtypes"], full.item_params["subtypes"], atol=1e-6)
    for key in ("confusion", "subtype_confusion", "subtype_share"):
        np.testing.assert_allclose(pruned.worker_params[key], full.worker_params[key], atol=1e-6)
    assert pruned.posteriors[0, 1] == 1.0 and pruned.posteriors[5, 0] == 1.0  # gold clamped either way


def test_one_subtype_is_a_fixed_prior_bcc() -> None:
    data, truth = simulate(n_items=300, n_workers=12, k=3, seed=5)
    r = ebcc.fit(data, subtypes=1)
    assert r.item_params["subtypes"].shape == (300, 3, 1)
    assert _acc(r, truth) >= _acc(aggregate(data, "mv"), truth)


def test_gold_keeps_its_subtype_split() -> None:
    data, truth = shared_errors(n_items=400, seed=1)
    r = ebcc.fit(data, known={0: 1, 1: 0})
    z = r.item_params["subtypes"]
    assert z[0, 0].sum() == 0.0 and z[0, 1].sum() == pytest.approx(1.0)
    assert z[1, 1].sum() == 0.0 and z[1, 0].sum() == pytest.approx(1.0)


@pytest.mark.parametrize(
    "opts, field",
    [({"subtypes": 0}, "subtypes"), ({"subtypes": 2.5}, "subtypes"), ({"a_v": -1.0}, "a_v"), ({"b_v": float("nan")}, "b_v"),
     ({"a_pi": 0.0}, "a_pi"), ({"tol": 0.0}, "tol"), ({"max_iter": 0}, "max_iter")],
)
def test_options_are_checked(opts: dict, field: str) -> None:
    data, _ = simulate(n_items=20, n_workers=6, k=2, seed=1)
    with pytest.raises(QualityInputError) as info:
        ebcc.fit(data, **opts)
    assert info.value.field == field
