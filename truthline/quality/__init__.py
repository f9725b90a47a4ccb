"""Truth inference and agreement metrics on label index arrays (pure NumPy/SciPy, no I/O).

    from truthline.quality import CrowdLabels, aggregate
    data = CrowdLabels.from_arrays(items, workers, labels)
    result = aggregate(data)            # method="auto"
    result.answers, result.confidence, result.worker_accuracy
"""

from ._malloc import keep_freed_memory
from .labels import CrowdLabels, QualityInputError
from .result import Aggregate
from .registry import METHODS, aggregate
from .majority import fit as fit_mv
from .dawid_skene import fit as fit_ds
from .weighted_majority import fit as fit_wmv
from .one_coin import fit as fit_one_coin
from .glad import fit as fit_glad
from .mace import fit as fit_mace
from .bcc import fit as fit_bcc
from .ebcc import fit as fit_ebcc
from .auto import fit as fit_auto
from .calibration import ReliabilityBin, binned_error, calibration_error, reliability
from .agreement import PairwiseKappa, cohen_kappa_pairwise, coincidence_matrix, fleiss_kappa, krippendorff_alpha
from .workers import (Slips, WorkerStats, accuracy_interval, class_confusion, confusion_from_posteriors,
                      label_decisions, spammer_score, top_confusions, top_label_slips, top_slips, worker_stats)
from .multilabel import MultilabelAggregate, aggregate_multilabel
from .numeric import NumericAggregate, aggregate_numeric
from .pairwise import (CrowdPairwiseScores, EvidencePairwiseScores, HeadToHead, PairwiseScores, bradley_terry,
                       crowd_bradley_terry, evidence_bradley_terry, head_to_head)

keep_freed_memory()  # fits re-use each other's freed buffers instead of page-faulting them in (see _malloc)

__all__ = [
    "CrowdLabels",
    "QualityInputError",
    "Aggregate",
    "METHODS",
    "aggregate",
    "fit_mv",
    "fit_ds",
    "fit_wmv",
    "fit_one_coin",
    "fit_glad",
    "fit_mace",
    "fit_bcc",
    "fit_ebcc",
    "fit_auto",
    "ReliabilityBin",
    "binned_error",
    "calibration_error",
    "reliability",
    "PairwiseKappa",
    "cohen_kappa_pairwise",
    "coincidence_matrix",
    "fleiss_kappa",
    "krippendorff_alpha",
    "WorkerStats",
    "accuracy_interval",
    "class_confusion",
    "confusion_from_posteriors",
    "label_decisions",
    "spammer_score",
    "Slips",
    "top_confusions",
    "top_label_slips",
    "top_slips",
    "worker_stats",
    "MultilabelAggregate",
    "aggregate_multilabel",
    "NumericAggregate",
    "aggregate_numeric",
    "CrowdPairwiseScores",
    "PairwiseScores",
    "bradley_terry",
    "crowd_bradley_terry",
    "EvidencePairwiseScores",
    "evidence_bradley_terry",
    "HeadToHead",
    "head_to_head",
]
