import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.special import expit, ndtri
from scipy.stats import spearmanr

from truthline.quality.labels import QualityInputError
from truthline.quality.pairwise import bradley_terry, crowd_bradley_terry, evidence_bradley_terry, head_to_head


def _simulate(
    n: int = 30, m: int = 900, n_random: int = 0, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Five workers; the last `n_random` of them click at random."""
    rng = np.random.default_rng(seed)
    true = rng.normal(0, 1.5, n)
    true -= true.mean()
    a = rng.integers(0, n, m)
    b = (a + rng.integers(1, n, m)) % n
    workers = rng.integers(0, 5, m)
    a_wins = rng.random(m) < 1 / (1 + np.exp(-(true[a] - true[b])))
    a_wins = np.where(workers >= 5 - n_random, rng.random(m) < 0.5, a_wins)
    return a, b, (~a_wins).astype(np.int64), workers, true


def test_recovers_order_with_calibrated_intervals() -> None:
    a, b, winner, _, true = _simulate()
    res = bradley_terry(a, b, winner)
    assert res.converged
    assert spearmanr(res.scores, true)[0] > 0.9
    assert res.scores.sum() == pytest.approx(0.0, abs=1e-8)
    assert np.all(res.lower < res.scores) and np.all(res.scores < res.upper)
    assert np.mean((res.lower <= true) & (true <= res.upper)) > 0.8
    approx = bradley_terry(a, b, winner, max_dense=0)  # diagonal approximation for many items
    assert np.allclose(approx.scores, res.scores)
    assert np.all(np.abs(approx.stderr / res.stderr - 1.0) < 0.2)


def test_intervals_narrow_with_more_data() -> None:
    a, b, winner, _, _ = _simulate(n=10, m=2000)
    few = bradley_terry(a[:100], b[:100], winner[:100], n_items=10)
    many = bradley_terry(a, b, winner, n_items=10)
    assert np.all(many.stderr < few.stderr)


def test_perfect_winner_and_disconnected_items_stay_finite() -> None:
    a = np.array([0, 0, 0, 1, 3])
    b = np.array([1, 2, 1, 2, 4])
    winner = np.array([0, 0, 0, 1, 0])
    res = bradley_terry(a, b, winner, n_items=6)  # item 0 never loses; 3-4 form their own group; 5 unseen
    for arr in (res.scores, res.stderr, res.lower, res.upper):
        assert np.all(np.isfinite(arr))
    assert res.scores[0] == res.scores.max() and res.scores[3] > res.scores[4]
    assert res.stderr[5] == res.stderr.max()  # no data: widest interval
    empty = bradley_terry([], [], [], n_items=3)
    assert np.all(empty.scores == 0) and np.all(empty.stderr > 0)
    # no comparisons and no n_items: no items (not one phantom item scored 0 +- 0)
    for none in (bradley_terry([], [], []), crowd_bradley_terry([], [], [], [])):
        assert none.scores.shape == none.stderr.shape == none.lower.shape == (0,)


def test_crowd_bt_downweights_random_clickers() -> None:
    a, b, winner, workers, true = _simulate(n=30, m=1500, n_random=2, seed=3)
    plain = bradley_terry(a, b, winner)
    crowd = crowd_bradley_terry(a, b, winner, workers)
    assert crowd.converged
    assert np.all(crowd.worker_reliability[3:] < 0.35) and np.all(crowd.worker_reliability[:3] > 0.8)
    rho_plain, rho_crowd = spearmanr(plain.scores, true)[0], spearmanr(crowd.scores, true)[0]
    assert rho_crowd > 0.9 and rho_crowd >= rho_plain - 0.01
    cover = np.mean((crowd.lower <= true) & (true <= crowd.upper))
    assert cover > np.mean((plain.lower <= true) & (true <= plain.upper))
    assert crowd.label_weight.shape == a.shape
    assert crowd.label_weight[workers >= 3].mean() < crowd.label_weight[workers < 3].mean()


def test_crowd_bt_with_reliable_workers_matches_plain_bt() -> None:
    a, b, winner, workers, _ = _simulate(n=15, m=400, seed=4)
    plain = bradley_terry(a, b, winner)
    crowd = crowd_bradley_terry(a, b, winner, workers, n_workers=7)
    assert spearmanr(plain.scores, crowd.scores)[0] > 0.97
    assert crowd.worker_reliability.shape == (7,) and np.all(crowd.worker_reliability[5:] > 0.99)


@pytest.mark.parametrize(
    "kwargs, field",
    [
        ({"item_b": [1, 0]}, "item_b"),
        ({"item_b": [1, 1, 2]}, "item_b"),  # item 1 against itself
        ({"winner": [0, 2, 1]}, "winner"),
        ({"winner": [0.5, 1, 1]}, "winner"),
        ({"item_a": [0, -1, 1]}, "item_a"),
        ({"n_items": 2}, "n_items"),
        ({"item_b": [1, 2, 2**40]}, "item_a"),  # not an 8 TiB MemoryError
        ({"n_items": 2**40}, "n_items"),
        ({"ridge": 0.0}, "ridge"),
        ({"ridge": 1e-300}, "ridge"),  # was a LinAlgError
        ({"level": 1.0}, "level"),
    ],
)
def test_bad_input_names_argument(kwargs: dict, field: str) -> None:
    args = {"item_a": [0, 1, 2], "item_b": [1, 2, 0], "winner": [0, 1, 0]} | kwargs
    with pytest.raises(QualityInputError) as exc:
        bradley_terry(**args)
    assert exc.value.field == field
    with pytest.raises(QualityInputError, match="workers"):
        crowd_bradley_terry([0, 1], [1, 2], [0, 1], [0])
    with pytest.raises(QualityInputError, match="workers"):
        crowd_bradley_terry([0, 1], [1, 2], [0, 1], [0, 2**40])
    with pytest.raises(QualityInputError, match="reliability_prior"):
        crowd_bradley_terry([0, 1], [1, 2], [0, 1], [0, 0], reliability_prior=(0.5, 1.0))


@st.composite
def _comparisons(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    n = draw(st.integers(2, 6))
    pairs = draw(st.lists(st.tuples(st.integers(0, n - 1), st.integers(1, n - 1), st.integers(0, 1)), max_size=25))
    arr = np.array(pairs, dtype=np.int64).reshape(-1, 3)
    a = arr[:, 0]
    return a, (a + arr[:, 1]) % n, arr[:, 2], n


@settings(max_examples=50, deadline=None)
@given(_comparisons())
def test_invariances(data: tuple[np.ndarray, np.ndarray, np.ndarray, int]) -> None:
    a, b, winner, n = data
    res = bradley_terry(a, b, winner, n_items=n)
    assert np.all(np.isfinite(res.scores)) and np.all(np.isfinite(res.stderr))
    perm = np.random.default_rng(len(a)).permutation(len(a))
    shuffled = bradley_terry(a[perm], b[perm], winner[perm], n_items=n)
    assert np.allclose(shuffled.scores, res.scores, atol=1e-6)
    swapped = bradley_terry(b, a, 1 - winner, n_items=n)  # same comparisons written the other way round
    assert np.allclose(swapped.scores, res.scores, atol=1e-6)
    assert np.allclose(swapped.stderr, res.stderr, atol=1e-6)
    relabel = np.random.default_rng(n).permutation(n)
    moved = bradley_terry(relabel[a], relabel[b], winner, n_items=n)
    assert np.allclose(moved.scores[relabel], res.scores, atol=1e-6)
    flipped = bradley_terry(a, b, 1 - winner, n_items=n)  # every result reversed
    assert np.allclose(flipped.scores, -res.scores, atol=1e-6)


def test_weights_count_comparisons_and_split_uncertain_outcomes() -> None:
    a, b, winner, _, _ = _simulate(n=8, m=600)
    plain = bradley_terry(a, b, winner, n_items=8)
    # weight 2 on each comparison is the same as listing it twice
    doubled = bradley_terry(a, b, winner, n_items=8, weights=np.full(len(a), 2.0))
    twice = bradley_terry(np.r_[a, a], np.r_[b, b], np.r_[winner, winner], n_items=8)
    assert np.allclose(doubled.scores, twice.scores, atol=1e-6) and np.allclose(doubled.stderr, twice.stderr)
    assert np.all(doubled.stderr < plain.stderr)
    # a comparison entered once per outcome at 0.5 each says nothing about who is better
    even = bradley_terry(np.r_[a, a], np.r_[b, b], np.r_[np.zeros_like(a), np.ones_like(a)], n_items=8,
                         weights=np.full(2 * len(a), 0.5))
    assert np.max(np.abs(even.scores)) < 1e-6
    # weight 0 drops a comparison
    zero = bradley_terry(np.r_[a, 0], np.r_[b, 1], np.r_[winner, 0], n_items=8, weights=np.r_[np.ones(len(a)), 0.0])
    assert np.allclose(zero.scores, plain.scores, atol=1e-6)


@pytest.mark.parametrize("weights, says", [([1.0, -1.0], "finite and >= 0"), ([1.0, np.nan], "finite"),
                                           ([1.0], "has 1 entries"), (["x", 1], "must be numbers")])
def test_bad_weights_name_the_field(weights: list, says: str) -> None:
    with pytest.raises(QualityInputError) as err:
        bradley_terry([0, 1], [1, 2], [0, 1], weights=weights)
    assert err.value.field == "weights" and says in str(err.value)


def _em_with_strengths(a: np.ndarray, b: np.ndarray, e: np.ndarray, n: int, rounds: int) -> np.ndarray:
    """The slow way to the same fit: alternate outcome posteriors under the strengths and weighted fits."""
    from scipy.special import expit

    s = np.zeros(n)
    for _ in range(rounds):
        p = expit(s[a] - s[b])
        q = e[:, 0] * p / (e[:, 0] * p + e[:, 1] * (1 - p))
        s = bradley_terry(np.r_[a, a], np.r_[b, b], np.r_[np.zeros(len(a), int), np.ones(len(a), int)],
                          weights=np.r_[q, 1 - q], n_items=n, initial=s).scores
    return s


def test_evidence_bradley_terry_is_the_fixed_point_of_em() -> None:
    a, b, winner, _, true = _simulate(n=10, m=600, seed=4)
    rng = np.random.default_rng(4)
    sure = rng.uniform(0.55, 0.95, len(a))  # how strongly each comparison's evidence points the right way
    e = np.where((winner == 0)[:, None], np.c_[sure, 1 - sure], np.c_[1 - sure, sure])
    fit = evidence_bradley_terry(a, b, e, n_items=10)
    assert fit.converged and np.allclose(fit.scores, _em_with_strengths(a, b, e, 10, 400), atol=1e-4)
    assert spearmanr(fit.scores, true)[0] > 0.9
    assert fit.outcome.shape == (len(a), 2) and np.allclose(fit.outcome.sum(axis=1), 1.0)
    # read through the strengths, an open comparison leans toward the stronger item
    even = evidence_bradley_terry(np.r_[a, 0], np.r_[b, 9], np.r_[e, [[1.0, 1.0]]], n_items=10)
    assert (even.outcome[-1, 0] > 0.5) == (even.scores[0] > even.scores[9])


def test_certain_evidence_is_plain_bradley_terry() -> None:
    a, b, winner, _, _ = _simulate(n=8, m=400, seed=6)
    e = np.eye(2)[winner]
    fit, plain = evidence_bradley_terry(a, b, e, n_items=8), bradley_terry(a, b, winner, n_items=8)
    assert np.allclose(fit.scores, plain.scores, atol=1e-5) and np.allclose(fit.stderr, plain.stderr, rtol=1e-4)
    assert np.array_equal(fit.outcome, e)


def test_evidence_intervals_are_the_marginal_posteriors_laplace_ones() -> None:
    """The covariance is the inverse Hessian of the marginal objective (checked by finite differences), not the
    complete-data one that counted every comparison as settled."""
    rng = np.random.default_rng(3)
    n, m, tie, ridge = 6, 300, 0.2, 0.1
    a = rng.integers(0, n, m)
    b = (a + rng.integers(1, n, m)) % n
    e = rng.dirichlet([0.7, 0.7, 0.5], m)  # evidence of every strength, ties included
    fit = evidence_bradley_terry(a, b, e, n_items=n, tie_share=tie, ridge=ridge)

    def objective(s: np.ndarray) -> float:
        d = s[a] - s[b]
        z = (1 - tie) * (e[:, 0] * expit(d) + e[:, 1] * expit(-d)) + tie * e[:, 2]
        return float(-np.log(z).sum() + 0.5 * ridge * s @ s)

    step, basis = 1e-4, np.eye(n) * 1e-4
    hess = np.array([[(objective(fit.scores + basis[i] + basis[j]) - objective(fit.scores + basis[i] - basis[j])
                       - objective(fit.scores - basis[i] + basis[j]) + objective(fit.scores - basis[i] - basis[j]))
                      / (4 * step * step) for j in range(n)] for i in range(n)])
    centred = np.linalg.inv(hess) - 1.0 / (n * ridge)
    assert np.allclose(fit.covariance, centred, atol=1e-4)
    assert np.allclose(fit.stderr, np.sqrt(np.diag(centred)), rtol=1e-3)


def test_evidence_that_cannot_tell_the_sides_apart_does_not_narrow_the_intervals() -> None:
    a, b, winner, _, _ = _simulate(n=8, m=400, seed=6)
    sure = evidence_bradley_terry(a, b, np.eye(2)[winner], n_items=8)
    coins = np.r_[np.eye(2)[winner], np.ones((400, 2))]  # 400 more comparisons, each a coin toss
    padded = evidence_bradley_terry(np.r_[a, a], np.r_[b, b], coins, n_items=8)
    assert np.allclose(padded.scores, sure.scores, atol=1e-4) and np.allclose(padded.stderr, sure.stderr, rtol=1e-3)
    vague = np.where(np.eye(2)[winner] == 1, 0.6, 0.4)  # every outcome only leaning one way
    assert np.all(evidence_bradley_terry(a, b, vague, n_items=8).stderr > sure.stderr)


def test_evidence_ties_keep_their_share() -> None:
    a, b = np.array([0, 0, 1, 0]), np.array([1, 2, 2, 1])
    e = np.array([[0.0, 0.0, 1.0], [1.0, 0.0, 0.0], [0.2, 0.2, 0.6], [1.0, 1.0, 1.0]])
    fit = evidence_bradley_terry(a, b, e, n_items=3, tie_share=0.5)
    assert np.allclose(fit.outcome[0], [0.0, 0.0, 1.0]) and np.allclose(fit.outcome[3, 2], 0.5)
    assert fit.scores[0] > fit.scores[2]


@pytest.mark.parametrize("evidence, tie_share, field", [
    ([[1.0, 0.0], [0.0, -1.0]], 0.0, "evidence"),
    ([[1.0, 0.0], [0.0, 0.0]], 0.0, "evidence"),
    ([[1.0, 0.0], [np.nan, 1.0]], 0.0, "evidence"),
    ([[1.0, 0.0]], 0.0, "evidence"),
    ([[1.0, 0.0], [0.0, 1.0]], 0.2, "tie_share"),
    ([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]], 1.0, "tie_share"),
])
def test_bad_evidence_names_the_field(evidence: list, tie_share: float, field: str) -> None:
    with pytest.raises(QualityInputError) as err:
        evidence_bradley_terry([0, 1], [1, 2], evidence, tie_share=tie_share)
    assert err.value.field == field


# -- head to head: predicted win probabilities with intervals ---------------------------------------------------
def _arena(true: np.ndarray, m: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """m comparisons between random pairs, each won by the BT model's draw; as sure evidence (one-hot)."""
    rng = np.random.default_rng(seed)
    n = len(true)
    a = rng.integers(0, n, m)
    b = (a + rng.integers(1, n, m)) % n
    a_wins = rng.random(m) < expit(true[a] - true[b])
    return a, b, np.eye(2)[(~a_wins).astype(np.int64)]


def test_head_to_head_tells_a_stronger_model_apart_and_not_two_equal_ones() -> None:
    true = np.array([1.5, 0.0, 0.0, -0.5])  # 0 clearly best; 1 and 2 equal
    a, b, e = _arena(true, 800, seed=1)
    fit = evidence_bradley_terry(a, b, e, n_items=4)
    h = head_to_head(fit.scores, fit.covariance, level=0.95)
    assert h.lower[0, 1] > 0.5 and h.lower[0, 2] > 0.5 and h.better[0, 1] == h.better[0, 2] == 1
    assert h.better[1, 0] == -1 and h.upper[1, 0] < 0.5
    assert h.lower[1, 2] < 0.5 < h.upper[1, 2] and h.better[1, 2] == h.better[2, 1] == 0
    assert np.all((h.lower <= h.win) & (h.win <= h.upper))
    # the win probability is the scores' sigmoid; the covariance is the scores' own (centred, stderr on its diagonal)
    assert np.allclose(h.win, expit(fit.scores[:, None] - fit.scores[None, :]))
    assert np.array_equal(np.sqrt(np.maximum(np.diag(fit.covariance), 0.0)), fit.stderr)
    assert np.allclose(fit.covariance.sum(axis=1), 0.0, atol=1e-9)


def test_head_to_head_is_antisymmetric() -> None:
    a, b, e = _arena(np.array([1.0, 0.3, 0.0, -0.2, -1.1]), 300, seed=2)
    fit = evidence_bradley_terry(a, b, e, n_items=5)
    h = head_to_head(fit.scores, fit.covariance)
    assert np.allclose(h.win, 1.0 - h.win.T) and np.allclose(h.lower, 1.0 - h.upper.T)
    assert np.array_equal(h.better, -h.better.T)
    assert np.allclose(np.diag(h.win), 0.5) and np.all(np.diag(h.better) == 0)
    sub = head_to_head(fit.scores, fit.covariance, index=[3, 0])  # a subset, in the order asked
    assert np.allclose(sub.win, h.win[np.ix_([3, 0], [3, 0])]) and np.allclose(sub.upper, h.upper[np.ix_([3, 0],
                                                                                                          [3, 0])])


def test_the_variance_of_a_difference_uses_the_covariance() -> None:
    # 0 and 1 meet each other often and item 2 rarely: each score is unsure against the average, their
    # difference is not
    a = np.r_[np.zeros(300, np.int64), [0, 1, 2, 2]]
    b = np.r_[np.ones(300, np.int64), [2, 2, 0, 1]]
    winner = np.r_[np.zeros(180, np.int64), np.ones(120, np.int64), [0, 0, 1, 1]]
    fit = evidence_bradley_terry(a, b, np.eye(2)[winner], n_items=3)
    c, se = fit.covariance, fit.stderr
    h = head_to_head(fit.scores, c, level=0.9)
    sd = np.sqrt(c[0, 0] + c[1, 1] - 2 * c[0, 1])
    assert sd < 0.5 * np.hypot(se[0], se[1])  # strongly correlated: far from the sum of squared stderrs
    z = ndtri(0.95)
    d = fit.scores[0] - fit.scores[1]
    assert h.lower[0, 1] == pytest.approx(expit(d - z * sd)) and h.upper[0, 1] == pytest.approx(expit(d + z * sd))
    diagonal = head_to_head(fit.scores, se**2, level=0.9)  # variances alone: independent scores
    assert diagonal.lower[0, 1] == pytest.approx(expit(d - z * np.hypot(se[0], se[1])))
    assert h.better[0, 1] == 1 and diagonal.better[0, 1] == 0  # 60% of 300: only the covariance tells them apart


def test_head_to_head_intervals_cover_the_true_win_probability() -> None:
    covered = []
    for seed in range(20):
        rng = np.random.default_rng(100 + seed)
        true = rng.normal(0, 0.8, 5)
        a, b, e = _arena(true, 400, seed=200 + seed)
        fit = evidence_bradley_terry(a, b, e, n_items=5, level=0.9)
        h = head_to_head(fit.scores, fit.covariance, level=0.9)
        truth = expit(true[:, None] - true[None, :])
        i, j = np.triu_indices(5, 1)
        covered.extend((h.lower[i, j] <= truth[i, j]) & (truth[i, j] <= h.upper[i, j]))
    assert 0.83 <= np.mean(covered) <= 0.97  # 200 intervals, 10 per fit (correlated): near the 90% asked


def test_covariance_is_left_out_above_max_dense() -> None:
    a, b, e = _arena(np.array([0.5, 0.0, -0.5]), 100, seed=3)
    fit = evidence_bradley_terry(a, b, e, n_items=3, max_dense=2)
    assert fit.covariance is None and fit.stderr.shape == (3,)


@pytest.mark.parametrize("kwargs, field", [
    ({"covariance": np.eye(2)}, "covariance"),
    ({"covariance": np.ones(4)}, "covariance"),
    ({"level": 1.0}, "level"),
    ({"level": True}, "level"),
    ({"index": [0, 3]}, "index"),
    ({"index": [-1]}, "index"),
])
def test_bad_head_to_head_input_names_the_field(kwargs: dict, field: str) -> None:
    args = {"scores": np.zeros(3), "covariance": np.eye(3), **kwargs}
    with pytest.raises(QualityInputError) as err:
        head_to_head(**args)
    assert err.value.field == field
