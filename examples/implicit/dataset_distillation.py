"""Dataset distillation on load_digits: every pixel of a few synthetic images is a hyperparameter.

Inner problem: a softmax-linear classifier (64 -> 10) trained *only* on ``--per-class`` synthetic images per class,
L_T(W; S) = CE(S W + b, labels) + c/2 |W|^2 (strongly convex, so the implicit function theorem applies at its
minimum). Outer problem: the classifier's cross-entropy on 1000 real training images. The hyperparameters are the
synthetic pixels S (10 x per_class x 64 values), tuned by the paper's alternating schedule (10 gradient steps on
W, one CG hyper-step on S). Baselines train the same classifier on as many real images: random ones, and the
class means. Test accuracy is on the 397 held-out images; the full training set is shown for reference.

Run: python examples/implicit/dataset_distillation.py [--quick]
"""

from __future__ import annotations

import argparse
import time

import torch
from sklearn.datasets import load_digits

from hpo.implicit import HyperOptimizer

RIDGE = 1e-3  # c: keeps the inner problem strongly convex even on ten images


def inner_loss(weights: list[torch.Tensor], x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    w, b = weights
    return torch.nn.functional.cross_entropy(x @ w + b, y) + 0.5 * RIDGE * (w * w).sum()


def fit(x: torch.Tensor, y: torch.Tensor, steps: int = 300) -> list[torch.Tensor]:
    """Minimise ``inner_loss`` with L-BFGS (used for the baselines and the final evaluation)."""
    weights = [torch.zeros(64, 10, requires_grad=True), torch.zeros(10, requires_grad=True)]
    opt = torch.optim.LBFGS(weights, max_iter=steps, tolerance_grad=1e-9, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        opt.zero_grad()
        loss = inner_loss(weights, x, y)
        loss.backward()
        return loss

    opt.step(closure)
    return [t.detach() for t in weights]


def scores(weights: list[torch.Tensor], x: torch.Tensor, y: torch.Tensor) -> tuple[float, float]:
    logits = x @ weights[0] + weights[1]
    return float(torch.nn.functional.cross_entropy(logits, y)), float((logits.argmax(1) == y).float().mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="smoke run: 30 hyper-steps")
    parser.add_argument("--per-class", type=int, default=1, help="synthetic images per class")
    parser.add_argument("--hyper-steps", type=int, default=300)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(1)
    hyper_steps = 30 if args.quick else args.hyper_steps
    gen = torch.Generator().manual_seed(args.seed)

    x_all, y_all = load_digits(return_X_y=True)
    order = torch.randperm(len(y_all), generator=gen)
    x_all = torch.tensor(x_all / 16.0, dtype=torch.float32)[order]
    y_all = torch.tensor(y_all)[order]
    x_real, y_real, x_test, y_test = x_all[:1400], y_all[:1400], x_all[1400:], y_all[1400:]
    labels = torch.arange(10).repeat_interleave(args.per_class)

    # Baselines with as many real images: a random draw per class, and the class means.
    picks = torch.cat([torch.nonzero(y_real == k)[:, 0][: args.per_class] for k in range(10)])
    means = torch.stack([x_real[y_real == k].mean(0) for k in range(10)]).repeat_interleave(args.per_class, 0)

    # Distillation, started from the random real images (the paper's dataset-distillation hyperparameters).
    synthetic = x_real[picks].clone().requires_grad_()
    weights = [torch.zeros(64, 10, requires_grad=True), torch.zeros(10, requires_grad=True)]
    inner_opt = torch.optim.Adam(weights, lr=0.05)
    hyper = HyperOptimizer([synthetic], torch.optim.Adam([synthetic], lr=0.01), method="cg", max_iter=10)
    start = time.process_time()
    for _ in range(hyper_steps):
        for _ in range(10):
            inner_opt.zero_grad()
            inner_loss(weights, synthetic, labels).backward(inputs=weights)
            inner_opt.step()
        hyper.step(
            lambda: torch.nn.functional.cross_entropy(x_real @ weights[0] + weights[1], y_real),
            lambda: inner_loss(weights, synthetic, labels),
            weights,
        )
    seconds = time.process_time() - start

    n = 10 * args.per_class
    rows = [
        (f"{n} random real images", fit(x_real[picks], labels)),
        (f"{n} class-mean images", fit(means, labels)),
        (
            f"{n} distilled images ({hyper_steps} hyper-steps, {seconds:.1f} CPU s)",
            fit(synthetic.detach(), labels),
        ),
        ("all 1400 real training images (reference)", fit(x_real, y_real)),
    ]
    print("| classifier trained on | train-set CE | test CE | test accuracy |")
    print("|---|---|---|---|")
    for name, fitted in rows:
        train_ce, _ = scores(fitted, x_real, y_real)
        test_ce, test_acc = scores(fitted, x_test, y_test)
        print(f"| {name} | {train_ce:.4f} | {test_ce:.4f} | {test_acc:.3f} |")
    print(
        f"\nrun: python examples/implicit/dataset_distillation.py{' --quick' if args.quick else ''} "
        f"(seed {args.seed}, {args.per_class} per class, torch {torch.__version__}, 1 thread)"
    )


if __name__ == "__main__":
    main()
