"""Hardware-aware bit-width allocation: candidates table, exact MILP, frontier, methods."""

from codesign.alloc.budget import BUDGET_KEYS, Budget, parse_budget
from codesign.alloc.candidates import (
    COST_KEYS,
    AllocationError,
    Candidates,
    LayerCandidates,
    Tensor,
    build_candidates,
    prune,
    synthetic_chain,
    tensor_groups,
)
from codesign.alloc.frontier import frontier, non_dominated
from codesign.alloc.methods import METHODS, method_frontier, run
from codesign.alloc.solver import Allocation, InfeasibleBudget, Solver, allocate, evaluate

__all__ = ["BUDGET_KEYS", "COST_KEYS", "METHODS", "Allocation", "AllocationError", "Budget",
           "Candidates", "InfeasibleBudget", "LayerCandidates", "Solver", "Tensor", "allocate",
           "build_candidates", "evaluate", "frontier", "method_frontier", "non_dominated",
           "parse_budget", "prune", "run", "synthetic_chain", "tensor_groups"]
