import numpy as np
import pytest

from truthline.quality import CrowdLabels, QualityInputError


def test_from_arrays_infers_counts() -> None:
    d = CrowdLabels.from_arrays([0, 2], [1, 0], [0, 0])
    assert (d.n_items, d.n_workers, d.n_classes, d.n_labels) == (3, 2, 2, 2)
    assert d.items.dtype == np.int64 and not d.items.flags.writeable


def test_integral_floats_are_accepted() -> None:
    d = CrowdLabels.from_arrays(np.array([0.0, 1.0]), [0, 0], [1, 0])
    assert d.items.tolist() == [0, 1]


def test_empty_is_allowed() -> None:
    d = CrowdLabels.from_arrays([], [], [], n_items=3, n_workers=2, n_classes=3)
    assert d.n_labels == 0 and d.n_items == 3


@pytest.mark.parametrize(
    "kwargs, field",
    [
        (dict(items=[0, 1], workers=[0], labels=[0, 1]), "labels"),
        (dict(items=[0, np.nan], workers=[0, 0], labels=[0, 1]), "items"),
        (dict(items=[0, 1], workers=[0, -1], labels=[0, 1]), "workers"),
        (dict(items=[0, 1], workers=[0, 0], labels=[0, 0.5]), "labels"),
        (dict(items=[0, 1], workers=[0, 0], labels=["a", "b"]), "labels"),
        (dict(items=[True, False], workers=[0, 0], labels=[0, 1]), "items"),
        (dict(items=[0, 1], workers=[0, 0], labels=[0, 5], n_classes=3), "labels"),
        (dict(items=[0, 3], workers=[0, 0], labels=[0, 1], n_items=2), "items"),
        (dict(items=[0, 1], workers=[0, 0], labels=[0, 1], n_items="3"), "n_items"),
        (dict(items=[0, 1], workers=[0, 0], labels=[0, 0], n_classes=1), "n_classes"),
        (dict(items=[[0, 1]], workers=[[0, 0]], labels=[[0, 1]]), "items"),
        (dict(items=[0, 2**40], workers=[0, 0], labels=[0, 1]), "items"),  # not a 16 TiB MemoryError later
        (dict(items=[0, 1], workers=[0, 2**40], labels=[0, 1]), "workers"),
        (dict(items=[0, 1], workers=[0, 0], labels=[0, 1], n_items=2**40), "n_items"),
        (dict(items=[2**31 - 2], workers=[0], labels=[1]), "items"),  # valid index, 32 GiB of posteriors
        (dict(items=[0, 1e20], workers=[0, 0], labels=[0, 1]), "items"),  # was "negative indices" after a wrap
        (dict(items=[0], workers=[0], labels=[1], n_workers=2**20, n_classes=40), "workers"),  # 13 GiB per table
    ],
)
def test_bad_input_names_the_argument(kwargs: dict, field: str) -> None:
    with pytest.raises(QualityInputError) as info:
        CrowdLabels.from_arrays(**kwargs)
    assert info.value.field == field
    assert field in str(info.value)


def test_direct_construction_is_checked() -> None:
    with pytest.raises(QualityInputError):
        CrowdLabels(np.array([0]), np.array([0]), np.array([3]), 1, 1, 2)


def test_distinct_drops_repeated_identical_answers_only() -> None:
    d = CrowdLabels.from_arrays([0, 0, 1, 0, 0, 1], [0, 1, 0, 0, 0, 0], [1, 1, 0, 1, 0, 0], n_items=3, n_classes=3)
    u = d.distinct()
    # (item 0, worker 0, 1) twice and (1, 0, 0) twice: the later copies go; a different answer stays
    assert list(zip(u.items, u.workers, u.labels)) == [(0, 0, 1), (0, 1, 1), (1, 0, 0), (0, 0, 0)]
    assert (u.n_items, u.n_workers, u.n_classes) == (3, 2, 3)
    assert u.distinct() is u
