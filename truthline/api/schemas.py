"""Pydantic request and response models of the REST API (the HTTP layer's own; services never see them).

Requests forbid unknown fields, so a typo (`overlapp`) is a 422 naming it instead of being ignored, and take
values as JSON types them (`"overlap": true` or `"5"` is a 422, not a number; 5.0 is 5).
Deep checks (is this label in the project's label set? is this task type registered?) stay in the services,
which every interface shares.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field

from truthline.services.tasks import MAX_ACTIVE_MS
from truthline.services.users import MAX_PASSWORD, USERNAME_PATTERN


def _storable(value: str) -> str:
    # PostgreSQL text cannot hold NUL, and no database takes a lone surrogate (JSON allows "\ud800"):
    # refuse both here so every database answers the same clear 422 instead of a driver error.
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("must be valid Unicode text (no lone surrogates)") from None
    return value


Text = Annotated[str, AfterValidator(_storable)]


def _whole(value: Any) -> Any:
    # JSON (and JSON Schema's "integer") does not tell 5 from 5.0; a client that computed 5.0 means 5.
    # Strict validation still refuses 5.5, true and "5".
    return int(value) if isinstance(value, float) and value.is_integer() else value


Int = Annotated[int, BeforeValidator(_whole)]


class _In(BaseModel):
    # strict: JSON true is not the number 1, nor "5" the number 5 (lax mode would quietly accept both)
    model_config = ConfigDict(extra="forbid", strict=True)


class _Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


# -- errors ---------------------------------------------------------------------------------------
class ErrorDetail(BaseModel):
    message: str
    field: str | None = Field(description="The field at fault (dotted, e.g. `labels[0]`), or null.")
    line: int | None = Field(description="The line of an uploaded file or the record of a batch (from 1), or null.")


class ErrorBody(ErrorDetail):
    code: str = Field(description="Machine-readable: invalid, not_found, conflict, unauthorized, forbidden, too_large, ...")
    details: list[ErrorDetail] = Field(description="Every problem found (a batch lists each bad line).")


class ErrorOut(BaseModel):
    """The body of every 4xx (and 5xx) response."""

    error: ErrorBody


# -- auth and users -------------------------------------------------------------------------------
class LoginIn(_In):
    username: Text = Field(min_length=1, max_length=100)
    password: Text = Field(min_length=1, max_length=MAX_PASSWORD)


class TokenIn(_In):
    name: Text = Field("api", min_length=1, max_length=100, description="A label for the token (where it is used).")


class TokenOut(BaseModel):
    token: str = Field(description="Send as `Authorization: Bearer <token>`. Shown once; only a hash is stored.")


class UserIn(_In):
    username: Text = Field(min_length=1, max_length=100, pattern=rf"^{USERNAME_PATTERN}$",
                           description="Letters, digits and . _ @ -")
    password: Text = Field(min_length=8, max_length=MAX_PASSWORD)
    role: Literal["admin", "member"] = "member"


class UserOut(_Out):
    id: int
    username: str
    role: str
    active: bool = True


class UserPatchIn(_In):
    active: bool | None = Field(None, description="false: the user can no longer log in or use any token.")
    role: Literal["admin", "member"] | None = None
    password: Text | None = Field(None, min_length=8, max_length=MAX_PASSWORD,
                                  description="A new password (for a user who forgot theirs).")


class UserChangedOut(UserOut):
    tokens_revoked: int = Field(description="Sessions and API tokens ended: deactivating, demoting or a new "
                                            "password ends every one, so a stolen token stops working.")


class PasswordChangeIn(_In):
    current_password: Text = Field(min_length=1, max_length=MAX_PASSWORD)
    new_password: Text = Field(min_length=8, max_length=MAX_PASSWORD)


class RevokedOut(BaseModel):
    tokens_revoked: int


# -- projects and members -------------------------------------------------------------------------
class ScaleIn(_In):
    """A rating project's scale: min, min + step, ..., max (at most 200 values, 6 decimals)."""

    min: float  # strict float takes JSON integers too (1 -> 1.0, whose label is "1")
    max: float
    step: float = 1


class ScaleOut(BaseModel):
    min: int | float
    max: int | float
    step: int | float


class RangeIn(_In):
    """A numeric project's bounds on answers; either end may be left out."""

    min: float | None = None
    max: float | None = None


class RangeOut(BaseModel):
    min: int | float | None = None
    max: int | float | None = None


# rating takes its scale's values as numbers or strings; the other task types refuse numbers by field
Label = Text | float


class ProjectIn(_In):
    name: Text = Field(min_length=1, max_length=200)
    task_type: Text = Field("classification",
                            description="A registered task type: classification, multilabel, rating, numeric, "
                                        "pairwise.")
    labels: list[Label] | None = Field(None, description="The label set, in display order (rating: the scale's "
                                                         "values, e.g. [1, 2, 3], or give `scale`; numeric: none; "
                                                         "pairwise: a, b and tie, set by `ties`).")
    scale: ScaleIn | None = Field(None, description="rating only: the scale, e.g. {\"min\": 1, \"max\": 5}; its "
                                                    "values become the labels.")
    range: RangeIn | None = Field(None, description="numeric only: answers outside it are refused, e.g. "
                                                    "{\"min\": 0}; {} (or a null end): unbounded.")
    tolerance: float | None = Field(None, ge=0, description="numeric only: how far from gold (or truth) an answer "
                                                            "still counts as right; default 0.")
    ties: bool | None = Field(None, description="pairwise only: whether workers may answer \"tie\" beside \"a\" "
                                                "and \"b\"; default false.")
    random_order: bool | None = Field(None, description="pairwise only: show each annotator the two candidates in "
                                                        "an order drawn at random (answers are stored as the item's "
                                                        "own a/b), so a bias toward the first one falls on both "
                                                        "sides alike; default true.")
    guidelines: Text = Field("", description="Instructions for annotators (Markdown).")
    overlap: Int = Field(1, ge=1, le=1000, description="Labels wanted per item.")
    pay_cents: Int = Field(0, ge=0, le=10**9, description="Pay per accepted answer, in cents.")
    status: Literal["active", "paused", "archived"] = "active"
    lease_seconds: Int | None = Field(None, ge=1, le=7 * 24 * 3600, description="Lease length; default: the server's lease_seconds.")


class ProjectPatch(_In):
    """Only the fields sent change. A field's type has no `None`: an explicit null is a 422 naming the field."""

    name: Text = Field(None, min_length=1, max_length=200)  # type: ignore[assignment]
    task_type: Text = Field(None, description="Only while the project has no items.")  # type: ignore[assignment]
    labels: list[Label] = Field(None)  # type: ignore[assignment]
    scale: ScaleIn = Field(None, description="rating only.")  # type: ignore[assignment]
    range: RangeIn = Field(None, description="numeric only.")  # type: ignore[assignment]
    tolerance: float = Field(None, ge=0, description="numeric only.")  # type: ignore[assignment]
    ties: bool = Field(None, description="pairwise only.")  # type: ignore[assignment]
    random_order: bool = Field(None, description="pairwise only; applies to leases taken after.")  # type: ignore[assignment]
    guidelines: Text = Field(None)  # type: ignore[assignment]
    overlap: Int = Field(None, ge=1, le=1000)  # type: ignore[assignment]
    pay_cents: Int = Field(None, ge=0, le=10**9)  # type: ignore[assignment]
    status: Literal["active", "paused", "archived"] = Field(None)  # type: ignore[assignment]
    lease_seconds: Int = Field(None, ge=1, le=7 * 24 * 3600)  # type: ignore[assignment]


class ProjectOut(_Out):
    id: int
    name: str
    task_type: str
    labels: list[str]
    scale: ScaleOut | None = Field(None, description="rating: the scale whose values are the labels.")
    range: RangeOut | None = Field(None, description="numeric: the bounds on answers (a null end: unbounded).")
    tolerance: int | float | None = Field(None, description="numeric: how far from gold an answer counts as right.")
    ties: bool | None = Field(None, description="pairwise: whether \"tie\" is a choice.")
    random_order: bool | None = Field(None, description="pairwise: whether annotators see the candidates in an "
                                                        "order drawn per lease.")
    guidelines: str
    overlap: int
    pay_cents: int
    status: str
    lease_seconds: int


class ProjectList(BaseModel):
    projects: list[ProjectOut]


class MemberIn(_In):
    username: Text = Field(min_length=1, max_length=100)
    role: Literal["manager", "annotator", "reviewer"] = "annotator"


class MemberOut(_Out):
    user_id: int
    username: str
    role: str


class MemberList(BaseModel):
    members: list[MemberOut]


# -- items ----------------------------------------------------------------------------------------
class ImportReportOut(_Out):
    created: int
    updated: int
    unchanged: int


# -- labeling -------------------------------------------------------------------------------------
class TaskItem(BaseModel):
    id: int
    external_id: str
    data: dict[str, Any]


class TaskOut(BaseModel):
    lease_id: int
    item: TaskItem
    expires_at: datetime = Field(description="When the lease lapses (ISO 8601, UTC).")
    expires_in: float = Field(description="Seconds until then, by the server's clock (exact; `Date` has whole "
                                          "seconds): a client with a skewed clock can still time the lease.")
    task_type: str
    labels: list[str]


class RenewOut(BaseModel):
    lease_id: int
    expires_at: datetime
    expires_in: float = Field(description="Seconds until the renewed lease lapses: the project's full lease length.")


class SubmitIn(_In):
    answer: Any = Field(description="classification: one label; multilabel: a list of labels.")
    active_ms: Int = Field(0, ge=0, le=MAX_ACTIVE_MS,
                           description="Time the annotator actively spent, in ms (0: not measured; left out of "
                                       "the worker's mean time).")
    idempotency_key: Text | None = Field(
        None, min_length=1, max_length=200, description="Retries with the same key return the same annotation."
    )


class AnnotationOut(_Out):
    id: int
    lease_id: int | None = None
    item_id: int
    answer: Any
    active_ms: int
    created_at: datetime


class NextIn(_In):
    held: list[Annotated[Int, Field(ge=1, le=2**63 - 1)]] = Field(
        default_factory=list,
        max_length=10,
        description="Lease ids this client already holds (prefetch): the server leases another item instead.",
    )


class LeaseStateOut(BaseModel):
    lease_id: int
    state: Literal["skipped", "released", "expired"]


# -- results --------------------------------------------------------------------------------------
class ItemResult(BaseModel):
    item_id: int
    external_id: str
    answer: Any
    confidence: float | None = Field(
        description="The answer's posterior probability (multilabel: that of its least certain yes/no decision); "
                    "`auto` tempers it to match held-out labels (the quality report's `temperature`). 1 for gold, "
                    "null for items nobody labelled."
    )
    n_labels: int | None = None
    estimate: float | None = Field(None, description="rating: the posterior mean over the scale's values (rank or "
                                                     "average items by it); numeric: the answer before rounding to "
                                                     "the workers' step; null for items nobody labelled.")
    stderr: float | None = Field(None, description="numeric only: the estimate's standard error (0 for gold; null "
                                                   "where no item has two labels, so noise is unmeasured).")
    probabilities: dict[str, float] | None = None  # only when asked for (?probabilities=true)


class ResultsOut(BaseModel):
    project_id: int
    method: str
    results: list[ItemResult]


class _Worker(BaseModel):
    user_id: int
    username: str
    n_labels: int


class Agreement(BaseModel):
    krippendorff_alpha: float | None = Field(description="Nominal alpha over all labels; null when undefined.")
    fleiss_kappa: float | None = Field(description="Over items with at least two labels; null when undefined.")
    krippendorff_alpha_ordinal: float | None = Field(None, description="rating and numeric only (absent otherwise): "
                                                                       "alpha with the values' order (a 4 against a "
                                                                       "5 is a smaller disagreement than a 1 against "
                                                                       "a 5).")
    krippendorff_alpha_interval: float | None = Field(None, description="rating and numeric only (absent otherwise): "
                                                                        "alpha with the values' distances (squared "
                                                                        "differences).")


class CalibrationBin(BaseModel):
    lower: float = Field(description="Confidence range [lower, upper) of the bin (the top bin includes 1).")
    upper: float
    items: int
    confidence: float = Field(description="Mean confidence of its items.")
    accuracy: float = Field(description="Share of its items whose answer equals the hidden truth.")


class Calibration(BaseModel):
    items: int = Field(description="Labeled items with hidden truth that are not gold (multilabel: their yes/no "
                                   "decisions, one per item and label).")
    error: float = Field(description="Expected calibration error: the bins' |confidence - accuracy|, weighted by items.")
    bins: list[CalibrationBin] = Field(description="Bins of width 0.1 that hold items.")


class Slip(BaseModel):
    kind: Literal["confused", "missed", "added"] = Field(
        description="confused: items answered `answer` labelled `given` (classification); missed: `answer` left "
                    "out of items that have it; added: `given` chosen for items without it (multilabel).")
    answer: str | None = Field(description="The answer of the items this worker labelled otherwise (null: added).")
    given: str | None = Field(description="The label they gave those items instead (null: missed).")
    labels: int = Field(description="How many times.")
    of: int = Field(description="Out of how many of their labels on such items.")


class WorkerQuality(_Worker):
    accuracy: float | None = Field(description="Posterior mean of agreement with the inferred answers.")
    lower: float | None = Field(description="Lower end of the credible interval (at `level`).")
    upper: float | None
    spammer_score: float | None = Field(description="Raykar & Yu: 0 = the answer does not depend on the item, 1 = perfect.")
    gold_labels: int = Field(description="Labels this worker gave to gold items.")
    gold_correct: int = Field(description="Of those, how many match the gold answer.")
    mean_active_ms: float | None = Field(description="Mean active time per label over the labels whose time was "
                                                     "measured (not 0); null where none was.")
    top_slip: Slip | None = Field(
        default=None,
        description="The worker's most frequent slip against the answers where it is a habit to correct: 3+ times, "
                    "10%+ of their labels on items with that answer, and (beyond two classes) twice what mistakes "
                    "spread evenly would give; null otherwise.")
    bias: float | None = Field(None, description="numeric only (absent otherwise): what the worker adds to the true "
                                                 "value, in the answers' units (the typical worker: 0, unless gold "
                                                 "measures it).")
    noise: float | None = Field(None, description="numeric only: the scale of the worker's errors around value + bias.")
    ordered_answers: int | None = Field(None, description="pairwise only: the worker's \"a\" or \"b\" answers "
                                                          "given on a lease (imported labels' order is unknown).")
    first_picks: int | None = Field(None, description="pairwise only: of those, how many chose the candidate shown "
                                                      "first. In random order an honest worker's share is about half.")
    leans_first: bool | None = Field(None, description="pairwise only: the share's credible interval lies above "
                                                       "one half (a position bias; meaningful in random order, "
                                                       "where the first candidate is the better one half the "
                                                       "time); null before any such answer.")


class WorkersOut(BaseModel):
    project_id: int
    method: str
    workers: list[WorkerQuality]


class LabelModels(BaseModel):
    label: str
    selected: int = Field(description="Answers that chose this label (0: nobody did, and every item is a no; "
                                      "`answers`: everybody did).")
    answers: int = Field(description="Answers in all.")
    models: dict[str, float] = Field(description="The models `auto` blended for this label's yes/no question, and "
                                                 "their weights.")
    temperature: float = Field(description="The power this label's posteriors were raised to (1 = untouched).")
    temperature_gold_items: int = Field(description="Gold items (with labels) that checked that temperature.")


class Confusion(BaseModel):
    answer: str = Field(description="The class the method inferred for the items.")
    given: str = Field(description="Another label workers gave those items.")
    labels: int = Field(description="How many labels that was.")
    share: float = Field(description="Its share of all labels given to items of `answer`.")


class ClassConfusion(BaseModel):
    labels: list[str] = Field(description="The project's labels, in order: the rows and columns of `counts`.")
    counts: list[list[int]] | None = Field(
        description="Labels by row = the items' answer (gold: its gold answer) and column = label given; null "
                    "beyond 30 classes.")
    top: list[Confusion] = Field(description="The most frequent confusions (off the diagonal), largest first.")


class LabelMisses(BaseModel):
    label: str
    missed: int = Field(description="Answers on items that have this label (as the method answers) that left it out.")
    of_yes: int = Field(description="Answers on items that have it.")
    added: int = Field(description="Answers on items without it that chose it.")
    of_no: int = Field(description="Answers on items without it.")


class QualityOut(BaseModel):
    project_id: int
    method: str
    agreement: Agreement
    level: float = Field(description="Credibility of the workers' intervals.")
    accuracy_vs_truth: float | None = Field(
        description="Share of the answers `results` gives that are right, among labelled items with hidden truth "
                    "that are not gold (gold is clamped to its answer, so it would always count as right).")
    models: dict[str, float] = Field(
        description="The models `auto` blended and their weights (empty for other methods, and for multilabel "
                    "projects, where every label is fitted on its own: see `per_label`).")
    temperature: float | None = Field(
        default=None,
        description="`auto` raises its posteriors to this power (then renormalizes) so that their confidence matches "
                    "held-out labels: 1 = untouched, below 1 = less sure; answers do not change. Null for other methods "
                    "and for multilabel projects (a temperature per label: see `per_label`).",
    )
    temperature_gold_items: int = Field(
        default=0,
        description="How many gold items (with labels) checked `temperature`: gold answers the fit was not given may "
                    "soften it below what held-out labels call for (20+ needed; 0 = held-out labels alone).",
    )
    per_label: list[LabelModels] = Field(
        default_factory=list,
        description="Multilabel projects with `auto`: each label's own fit (models, temperature), in the project's "
                    "label order; empty otherwise.")
    calibration: Calibration | None = Field(
        default=None,
        description="The method's confidence against hidden truth (20+ such items or decisions; else null).",
    )
    confusion: ClassConfusion | None = Field(
        default=None,
        description="Which classes the crowd confuses: the labels given to each inferred class's items "
                    "(classification; null for multilabel and before any label).")
    label_misses: list[LabelMisses] | None = Field(
        default=None,
        description="Multilabel: per label, how often workers left it out where it applies and chose it where it "
                    "does not (null for classification, which has `confusion`).")
    error_vs_truth: float | None = Field(None, description="numeric only (absent otherwise): the mean absolute "
                                                           "error of the estimates against hidden truth, over the "
                                                           "items `accuracy_vs_truth` counts.")
    workers: list[WorkerQuality]


class Progress(BaseModel):
    items: int
    done: int = Field(description="Items with all the labels they need.")
    labels: int
    leased: int = Field(description="Live leases.")
    gold: int
    percent: float


class SummaryAgreement(BaseModel):
    mv_vs_ds: float | None = Field(description="Share of labelled items where majority vote and Dawid-Skene agree.")
    items: int


class SummaryAccuracy(BaseModel):
    against: Literal["truth", "gold"] | None
    items: int = Field(description="Items scored: labelled, with hidden truth and not gold (gold is clamped), or "
                                   "without any truth, with gold (inferred with gold left unclamped).")
    mv: float | None
    ds: float | None


class SummaryProject(ProjectOut):
    created_by: int | None
    created_at: str = Field(description="ISO 8601, UTC.")


class SummaryOut(BaseModel):
    project: SummaryProject
    progress: Progress
    label_distribution: dict[str, int]
    workers: int
    agreement: SummaryAgreement
    accuracy: SummaryAccuracy


class RankedSide(BaseModel):
    id: str = Field(description="What produced the candidates (an item's a_id or b_id: a model, a system).")
    score: float = Field(description="Bradley-Terry log-strength, centred on 0: P(x beats y) = "
                                     "1 / (1 + exp(score_y - score_x)).")
    stderr: float
    lower: float = Field(description="The score's interval at `level` (Laplace approximation).")
    upper: float
    comparisons: int = Field(description="Items that compared it (with an answer).")
    wins: int = Field(description="Items whose inferred answer prefers it.")
    losses: int
    ties: int


class RankingOut(BaseModel):
    project_id: int
    method: str
    level: float
    items: int = Field(description="Items in the fit: answered, naming both sides' ids.")
    unranked_items: int = Field(description="Answered items without a_id and b_id (not in the ranking).")
    converged: bool
    ranking: list[RankedSide] = Field(description="Best first.")


class Matchup(BaseModel):
    id: str = Field(description="The column side: the one the row side is compared with.")
    win_probability: float = Field(description="Predicted P(row side beats this side), ties aside: "
                                               "1 / (1 + exp(score_column - score_row)).")
    lower: float = Field(description="The win probability's interval at `level`, from the Laplace interval of the "
                                     "score difference (which takes in how the two scores move together).")
    upper: float
    better: bool | None = Field(description="True: the row side is significantly better (the difference's interval "
                                            "lies above 0); False: significantly worse; null: not told apart yet.")
    items: int = Field(description="Items that compared exactly these two sides (with an answer).")
    wins: int = Field(description="Of those, items whose inferred answer prefers the row side.")
    losses: int
    ties: int


class HeadToHeadSide(BaseModel):
    id: str = Field(description="A ranked side (an item's a_id or b_id), best first.")
    score: float = Field(description="Its Bradley-Terry score, as in the ranking.")
    versus: list[Matchup] = Field(description="Every other side in the table, in the same order.")


class HeadToHeadOut(BaseModel):
    project_id: int
    method: str
    level: float
    ranked: int = Field(description="Sides in the whole ranking (the table holds the best `top` of them).")
    items: int = Field(description="Items in the fit: answered, naming both sides' ids.")
    exact_covariance: bool = Field(description="False above 2000 sides: the intervals then use each score's "
                                               "variance alone, ignoring how the scores move together.")
    converged: bool
    sides: list[HeadToHeadSide] = Field(description="The best `top` sides, best first.")
