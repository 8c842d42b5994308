"""Stratified random panel draw (층화 무작위 추첨, sortition) for citizen panels.

Pure domain code (no Telegram). See ``optimise`` for the algorithm and ``draw`` for the
seeded, verifiable draw; ``civicbot draw`` is the command line over it.
"""

from domain.sortition.draw import (
    DrawResult,
    blocking_quotas,
    draw_panel,
    next_replacement,
    sample_panel,
    seeded_random,
)
from domain.sortition.fairness import Fairness, fairness, gini
from domain.sortition.files import DataFileError, read_pool, read_quotas
from domain.sortition.infeasibility import Infeasibility, QuotaRelaxation, explain_infeasibility
from domain.sortition.model import (
    ALGORITHM_VERSION,
    Applicant,
    DistributionCheckError,
    InfeasibleQuotasError,
    InputError,
    Quota,
    SortitionError,
    TypeSpace,
    commitment,
    proportional_quotas,
    type_space,
)
from domain.sortition.optimise import (
    WEIGHT_SCALE,
    Distribution,
    check_distribution,
    lp_upper_bound,
    optimal_distribution,
)

__all__ = [
    "ALGORITHM_VERSION",
    "WEIGHT_SCALE",
    "Applicant",
    "DataFileError",
    "Distribution",
    "DistributionCheckError",
    "DrawResult",
    "Fairness",
    "Infeasibility",
    "InfeasibleQuotasError",
    "InputError",
    "Quota",
    "QuotaRelaxation",
    "SortitionError",
    "TypeSpace",
    "blocking_quotas",
    "check_distribution",
    "commitment",
    "draw_panel",
    "explain_infeasibility",
    "fairness",
    "gini",
    "lp_upper_bound",
    "next_replacement",
    "optimal_distribution",
    "proportional_quotas",
    "read_pool",
    "read_quotas",
    "sample_panel",
    "seeded_random",
    "type_space",
]
