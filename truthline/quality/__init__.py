"""Truth inference and agreement metrics on label index arrays (pure NumPy/SciPy, no I/O).

    from truthline.quality import CrowdLabels, aggregate
    data = CrowdLabels.from_arrays(items, workers, labels)
    result = aggregate(data)            # method="auto"
    result.answers, result.confidence, result.worker_accuracy
"""

from .labels import CrowdLabels, QualityInputError
from .result import Aggregate
from .registry import METHODS, aggregate
from .majority import fit as fit_mv
from .dawid_skene import fit as fit_ds

__all__ = [
    "CrowdLabels",
    "QualityInputError",
    "Aggregate",
    "METHODS",
    "aggregate",
    "fit_mv",
    "fit_ds",
]
