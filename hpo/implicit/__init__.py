"""Gradient-based tuning of continuous hyperparameters by implicit differentiation (papers.md §4).

``hypergradient`` computes ``dL_V/dlam`` at the current parameters through the implicit function theorem and an
approximate inverse-Hessian-vector product; ``HyperOptimizer`` applies it as the hyper-step of the paper's
alternating schedule. See docs/implicit.md.

This subpackage imports torch; the top-level ``hpo`` package does not import it.
"""

from __future__ import annotations

from hpo.implicit._hypergradient import hypergradient
from hpo.implicit._optimizer import HyperOptimizer
from hpo.implicit._solvers import HypergradientDivergenceError

__all__ = ["HyperOptimizer", "HypergradientDivergenceError", "hypergradient"]
