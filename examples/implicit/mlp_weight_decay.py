"""Per-weight weight decay for a 1.1M-weight MLP on load_digits: 1,126,410 hyperparameters.

Model 64-1024-1024-10 (ReLU). Training loss = cross-entropy + sum_k exp(theta_k) * w_k^2, one log-decay theta_k per
weight and bias (1,126,410 hyperparameters). The paper's alternating schedule: Adam steps on w, and every
``--every`` steps one hyper-step (CG hypergradient on a training and a validation minibatch, Adam on theta).

Baseline: the best single shared weight decay from a small log-grid search *at equal compute*: the search trains
as many shared-decay models as fit in the CPU time of the per-weight run (at least one; CPU time, because wall
time on a shared machine measures other jobs too), taking grid values in the order of ``GRID``, and keeps the one
with the best validation loss. Both report validation and test
cross-entropy (the test set is never used for tuning; with a million hyperparameters and 400 validation points the
validation loss is easy to overfit, papers.md §4 "Validation overfitting").

Run: python examples/implicit/mlp_weight_decay.py [--quick] [--threads 1]
"""

from __future__ import annotations

import argparse
import math
import time

import torch
from sklearn.datasets import load_digits

from hpo.implicit import HyperOptimizer

GRID = (1e-4, 1e-3, 1e-5, 1e-2, 1e-6)  # shared decays, tried in this order until the compute budget is spent


def load(seed: int) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """Digits split 1000 train / 400 validation / 397 test, pixels scaled to [0, 1]."""
    x, y = load_digits(return_X_y=True)
    order = torch.randperm(len(y), generator=torch.Generator().manual_seed(seed))
    xt = torch.tensor(x / 16.0, dtype=torch.float32)[order]
    yt = torch.tensor(y)[order]
    return {
        "train": (xt[:1000], yt[:1000]),
        "val": (xt[1000:1400], yt[1000:1400]),
        "test": (xt[1400:], yt[1400:]),
    }


def init_mlp(sizes: tuple[int, ...], seed: int) -> list[torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    params = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:], strict=False):
        params.append(
            (torch.randn(fan_in, fan_out, generator=gen) * math.sqrt(2.0 / fan_in)).requires_grad_()
        )
        params.append(torch.zeros(fan_out, requires_grad=True))
    return params


def forward(params: list[torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    for i in range(0, len(params), 2):
        x = torch.addmm(params[i + 1], x, params[i])
        if i + 2 < len(params):
            x = torch.relu(x)
    return x


def cross_entropy(params: list[torch.Tensor], batch: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
    return torch.nn.functional.cross_entropy(forward(params, batch[0]), batch[1])


def decay_term(params: list[torch.Tensor], log_decay: list[torch.Tensor]) -> torch.Tensor:
    return sum((torch.exp(t) * p * p).sum() for p, t in zip(params, log_decay, strict=True))  # type: ignore[return-value]


def evaluate(params: list[torch.Tensor], data: dict) -> tuple[float, float, float]:
    with torch.no_grad():
        val = float(cross_entropy(params, data["val"]))
        test = float(cross_entropy(params, data["test"]))
        acc = float((forward(params, data["test"][0]).argmax(1) == data["test"][1]).float().mean())
    return val, test, acc


def train(
    data: dict,
    *,
    steps: int,
    log_decay_init: float,
    per_weight: bool,
    every: int,
    max_iter: int,
    batch: int,
    seed: int,
    hyper_lr: float,
) -> tuple[list[torch.Tensor], float, HyperOptimizer | None]:
    """Train one model; with ``per_weight`` the log-decays are tuned by hyper-steps. Returns (params, CPU s, hyper)."""
    params = init_mlp((64, 1024, 1024, 10), seed)
    log_decay = [torch.full_like(p, log_decay_init, requires_grad=per_weight) for p in params]
    opt = torch.optim.Adam(params, lr=1e-3)
    hyper = None
    if per_weight:
        hyper = HyperOptimizer(
            log_decay,
            torch.optim.Adam(log_decay, lr=hyper_lr),
            method="cg",
            max_iter=max_iter,
            damping=1e-3,
            clip_norm=10.0,
        )
    gen = torch.Generator().manual_seed(seed)
    x_train, y_train = data["train"]
    x_val, y_val = data["val"]
    start = time.process_time()
    for step in range(steps):
        idx = torch.randint(len(y_train), (batch,), generator=gen)
        train_batch = (x_train[idx], y_train[idx])
        opt.zero_grad()
        # inputs=params: an ordinary step differentiates w only, not the million log-decays
        (cross_entropy(params, train_batch) + decay_term(params, log_decay)).backward(inputs=params)
        opt.step()
        if hyper is not None and (step + 1) % every == 0 and step >= steps // 10:  # warm-up: no hyper-steps
            hidx = torch.randint(len(y_train), (batch,), generator=gen)
            hbatch = (x_train[hidx], y_train[hidx])
            vidx = torch.randint(len(y_val), (batch,), generator=gen)
            vbatch = (x_val[vidx], y_val[vidx])
            hyper.step(
                lambda vb=vbatch: cross_entropy(params, vb),
                lambda hb=hbatch: cross_entropy(params, hb) + decay_term(params, log_decay),
                params,
            )
    return params, time.process_time() - start, hyper


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="smoke run: 30 steps")
    parser.add_argument("--steps", type=int, default=1500, help="training steps per model")
    parser.add_argument("--every", type=int, default=10, help="training steps per hyper-step")
    parser.add_argument("--max-iter", type=int, default=5, help="CG iterations (HVPs) per hyper-step")
    parser.add_argument("--hyper-lr", type=float, default=0.05)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    steps = 30 if args.quick else args.steps
    data = load(args.seed)
    common = dict(
        steps=steps, every=args.every, max_iter=args.max_iter, batch=args.batch, hyper_lr=args.hyper_lr
    )

    rows = []
    init = GRID[0]
    params, budget, hyper = train(
        data, log_decay_init=math.log(init), per_weight=True, seed=args.seed, **common
    )
    assert hyper is not None
    n_hparams = sum(p.numel() for p in params)
    rows.append((f"per-weight ({n_hparams:,} decays, init {init:g})", *evaluate(params, data), budget))

    spent, best = 0.0, None
    for decay in GRID:
        if spent >= budget:
            break
        params, secs, _ = train(
            data, log_decay_init=math.log(decay), per_weight=False, seed=args.seed, **common
        )
        spent += secs
        result = (f"shared {decay:g}", *evaluate(params, data), secs)
        rows.append(result)
        if best is None or result[1] < best[1]:
            best = result
    assert best is not None
    rows.append((f"best shared ({best[0]}), search total", *best[1:4], spent))

    print(
        f"MLP 64-1024-1024-10 on load_digits, {steps} Adam steps, batch {args.batch}, hyper-step every {args.every}"
    )
    print(
        f"steps (CG-{args.max_iter}, damping 1e-3, clip 10, Adam lr {args.hyper_lr}); {hyper.n_truncated} of {hyper.n_steps} truncated\n"
    )
    print("| run | val CE | test CE | test accuracy | CPU time (s) |")
    print("|---|---|---|---|---|")
    for name, val, test, acc, secs in rows:
        print(f"| {name} | {val:.4f} | {test:.4f} | {acc:.3f} | {secs:.1f} |")
    print(
        f"\nrun: python examples/implicit/mlp_weight_decay.py{' --quick' if args.quick else ''} "
        f"(seed {args.seed}, torch {torch.__version__}, {args.threads} thread(s))"
    )


if __name__ == "__main__":
    main()
