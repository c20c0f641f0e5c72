"""Accuracy of the inverse-HVP approximations and the tuning outcome of the alternating schedule.

Problems: per-feature L2 penalties (log-parametrised) for ridge regression with more features than training points
(80 features, 40 points) and for logistic regression (30 features, 100 points), from
``hpo.implicit._problems.make_problem``; exact hypergradients by a dense solve at the exact minimiser (closed form
or Newton), float64.

Table 1, accuracy per HVP: at the exact minimiser, for uniform and spread-out penalties at three levels
(theta = -2, -1, 0; spread = uniform +- 2.3) and five seeds (60 cases), the cosine between each approximation and
the exact hypergradient, at equal numbers of Hessian-vector products: CG-k against Neumann-k with alpha =
1/lambda_max (exact lambda_max, the series' best simple step), plus the identity approximation (0 HVPs).

Table 2, tuning outcome: from the best single shared penalty (49-point grid), 200 hyper-steps of Adam (lr 0.05) on
the per-feature log-penalties with (a) exact hypergradients at exact inner solutions, (b) the alternating schedule
(10 warm-started gradient steps on w, then one ``HyperOptimizer`` step). Capture = (L_shared - L_method) /
(L_shared - L_exact), validation loss at the exact minimiser for the final penalties.

Run: python benchmarks/implicit_tuning.py [--quick]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time

import torch

from hpo.implicit import hypergradient
from hpo.implicit._problems import (
    DTYPE,
    best_shared_penalty,
    make_problem,
    penalties,
    tune_alternating,
    tune_exact,
)

KINDS = ("ridge", "logistic")
BUDGETS = (5, 10, 20)


def _cosine(a: torch.Tensor, b: torch.Tensor) -> float:
    return float(torch.nn.functional.cosine_similarity(a, b, dim=0))


def accuracy_table(seeds: range, levels: tuple[float, ...]) -> None:
    cos: dict[tuple[str, int], list[float]] = {}
    wins = dict.fromkeys(BUDGETS, 0)
    n_cases = 0
    for kind in KINDS:
        for level in levels:
            for spread in (False, True):
                for seed in seeds:
                    problem = make_problem(kind, seed)
                    theta0 = penalties(problem, spread, seed, level=level)
                    w_star = problem.solve(theta0)
                    exact = problem.exact_hypergradient(theta0, w_star)
                    lam_max = float(torch.linalg.eigvalsh(problem.hessian(w_star, theta0))[-1])
                    w = w_star.clone().requires_grad_()
                    theta = theta0.clone().requires_grad_()

                    def grad(w=w, theta=theta, problem=problem, **options: object) -> torch.Tensor:
                        outer = lambda: problem.val_loss(w)  # noqa: E731
                        inner = lambda: problem.inner_loss(w, theta)  # noqa: E731
                        return hypergradient(outer, inner, [w], [theta], **options)[0]

                    n_cases += 1
                    cos.setdefault(("identity", 0), []).append(_cosine(grad(method="identity"), exact))
                    for k in BUDGETS:
                        c_cg = _cosine(grad(method="cg", max_iter=k, tol=0.0), exact)
                        c_ns = _cosine(
                            grad(method="neumann", terms=k, alpha=1.0 / lam_max, check_alpha=False), exact
                        )
                        cos.setdefault(("cg", k), []).append(c_cg)
                        cos.setdefault(("neumann", k), []).append(c_ns)
                        wins[k] += c_cg > c_ns
    print(f"Accuracy per HVP: cosine to the exact hypergradient over {n_cases} cases (median / min)\n")
    print(
        "| HVPs | CG median | CG min | Neumann (alpha=1/lambda_max) median | Neumann min | CG more accurate |"
    )
    print("|---|---|---|---|---|---|")
    ident = cos[("identity", 0)]
    print(f"| 0 (identity = Neumann-0) | | | {statistics.median(ident):.4f} | {min(ident):.4f} | |")
    for k in BUDGETS:
        cg, ns = cos[("cg", k)], cos[("neumann", k)]
        print(
            f"| {k} | {statistics.median(cg):.6f} | {min(cg):.4f} | {statistics.median(ns):.4f} | "
            f"{min(ns):.4f} | {wins[k]} of {n_cases} |"
        )
    print()


METHODS = {
    "CG-10 (default)": {"method": "cg", "max_iter": 10},
    "Neumann-10, alpha=None": {"method": "neumann", "terms": 10},
    "identity": {"method": "identity"},
}


def tuning_table(seeds: range, hyper_steps: int) -> None:
    captures: dict[str, list[float]] = {name: [] for name in METHODS}
    print(
        f"Tuning outcome: validation loss after {hyper_steps} hyper-steps (10 inner steps each), from the best shared"
    )
    print("penalty; capture = share of the exact-hypergradient improvement over the best shared penalty\n")
    header = " | ".join(f"{name} (capture)" for name in METHODS)
    print(f"| problem | best shared | exact hypergradients | {header} |")
    print("|---|---|---|" + "---|" * len(METHODS))
    for kind in KINDS:
        for seed in seeds:
            problem = make_problem(kind, seed)
            l_shared, t_shared = best_shared_penalty(problem)
            theta0 = torch.full((problem.dim,), t_shared, dtype=DTYPE)
            l_exact = float(
                problem.val_loss(problem.solve(tune_exact(problem, theta0, steps=hyper_steps, lr=0.05)))
            )
            cells = []
            for name, options in METHODS.items():
                theta, _, _ = tune_alternating(problem, theta0, hyper_steps=hyper_steps, **options)
                loss = float(problem.val_loss(problem.solve(theta)))
                capture = (l_shared - loss) / (l_shared - l_exact)
                captures[name].append(capture)
                cells.append(f"{loss:.4f} ({capture:.0%})")
            print(f"| {kind} seed {seed} | {l_shared:.4f} | {l_exact:.4f} | {' | '.join(cells)} |")
    summary = " | ".join(
        f"median {statistics.median(c):.0%}, min {min(c):.0%}" for c in (captures[name] for name in METHODS)
    )
    print(f"| **capture** | | | {summary} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="smoke run: 2 seeds, 20 hyper-steps")
    args = parser.parse_args()
    torch.set_num_threads(1)
    start = time.perf_counter()
    seeds = range(2) if args.quick else range(5)
    accuracy_table(seeds, (-1.0,) if args.quick else (-2.0, -1.0, 0.0))
    tuning_table(seeds, 20 if args.quick else 200)
    print(
        f"\nrun: python benchmarks/implicit_tuning.py{' --quick' if args.quick else ''} "
        f"on {platform.machine()} ({os.cpu_count()} cores), 1 thread, torch {torch.__version__}, "
        f"python {platform.python_version()} ({time.perf_counter() - start:.0f} s)"
    )


if __name__ == "__main__":
    main()
