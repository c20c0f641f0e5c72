"""Cost of implicit hyper-steps at scale: per-weight weight decay of a 1,126,410-weight MLP on load_digits.

Setting (issue 5): MLP 64-1024-1024-10 (ReLU), float32, one log weight decay per weight and bias (1,126,410
hyperparameters), training loss = cross-entropy + sum exp(theta) * w^2, minibatches of ``--batch`` training and
validation images, Adam on w and on theta, 1 thread. The weights are first trained for ``--warmup`` steps.

Times are CPU seconds of the process (``time.process_time``; one compute thread), so other jobs on a shared
machine change them little. Reported, for CG and Neumann with i = 5 / 10 / 20 HVPs per hyper-step:
- hyper-step cost as a multiple of a plain training step (median ratio over ``--reps`` interleaved pairs; a hyper-step is
  ``HyperOptimizer.step``: both gradients, the solver, the mixed backward pass and the Adam update on theta);
- whole-run overhead of the alternating schedule with a hyper-step every N = 5 / 10 steps: the wall time of N
  training steps plus one hyper-step over that of N training steps, median over ``--blocks`` interleaved blocks
  (measured, not extrapolated; interleaving keeps the ratio honest on a machine shared with other jobs);
- peak memory above the import baseline, in a fresh subprocess per configuration (peak RSS minus the RSS after
  ``import torch`` and loading the data), against plain training.
A naive implementation (the paper's Alg. 2/3 on flattened vectors: ``torch.cat`` of the gradients, every
vector operation on a 1.1M copy) is timed alongside as a same-machine reference.

Run: python benchmarks/implicit_cost.py            (about 10 minutes on 2 cores)
     python benchmarks/implicit_cost.py --quick    (smoke run)
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable

import torch
from sklearn.datasets import load_digits

from hpo.implicit import HyperOptimizer

SIZES = (64, 1024, 1024, 10)
TERMS = (5, 10, 20)
DAMPING = 1.0  # makes H + damping I positive definite on every minibatch, so each solve runs its full i HVPs


class Setup:
    """Model, data, log-decays and the two optimisers: everything one timing needs, deterministic per seed."""

    def __init__(self, batch: int, seed: int = 0) -> None:
        x, y = load_digits(return_X_y=True)
        self.x = torch.tensor(x / 16.0, dtype=torch.float32)
        self.y = torch.tensor(y)
        self.batch = batch
        self.gen = torch.Generator().manual_seed(seed)
        g = torch.Generator().manual_seed(seed)
        self.params: list[torch.Tensor] = []
        for fan_in, fan_out in zip(SIZES[:-1], SIZES[1:], strict=False):
            self.params.append(
                (torch.randn(fan_in, fan_out, generator=g) * math.sqrt(2.0 / fan_in)).requires_grad_()
            )
            self.params.append(torch.zeros(fan_out, requires_grad=True))
        self.log_decay = [torch.full_like(p, math.log(1e-4), requires_grad=True) for p in self.params]
        self.opt = torch.optim.Adam(self.params, lr=1e-3)

    @property
    def n_params(self) -> int:
        return sum(p.numel() for p in self.params)

    def minibatch(self, split: str) -> tuple[torch.Tensor, torch.Tensor]:
        low, high = (0, 1300) if split == "train" else (1300, len(self.y))
        idx = torch.randint(low, high, (self.batch,), generator=self.gen)
        return self.x[idx], self.y[idx]

    def cross_entropy(self, batch: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        h = batch[0]
        for i in range(0, len(self.params), 2):
            h = torch.addmm(self.params[i + 1], h, self.params[i])
            if i + 2 < len(self.params):
                h = torch.relu(h)
        return torch.nn.functional.cross_entropy(h, batch[1])

    def train_loss(self, batch: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        decay = sum((torch.exp(t) * p * p).sum() for p, t in zip(self.params, self.log_decay, strict=True))
        return self.cross_entropy(batch) + decay

    def plain_step(self) -> None:
        batch = self.minibatch("train")
        self.opt.zero_grad()
        self.train_loss(batch).backward(inputs=self.params)
        self.opt.step()

    def hyper_optimizer(self, method: str, i: int) -> HyperOptimizer:
        options = {"max_iter": i, "tol": 0.0} if method == "cg" else {"terms": i, "alpha": None}
        return HyperOptimizer(
            self.log_decay,
            torch.optim.Adam(self.log_decay, lr=1e-2),
            method=method,
            damping=DAMPING,
            on_divergence="truncate",
            **options,
        )

    def hyper_step(self, hyper: HyperOptimizer) -> None:
        train, val = self.minibatch("train"), self.minibatch("val")
        hyper.step(lambda: self.cross_entropy(val), lambda: self.train_loss(train), self.params)

    def naive_hyper_step(self, i: int, alpha: float, optimizer: torch.optim.Optimizer) -> None:
        """Alg. 2 + 3 on flat vectors, as a first implementation would write them (same-machine reference).

        The hypergradient goes through the same Adam update as ``HyperOptimizer``'s, so the two cost the same
        outside the solver.
        """
        train, val = self.minibatch("train"), self.minibatch("val")
        v = torch.cat([g.reshape(-1) for g in torch.autograd.grad(self.cross_entropy(val), self.params)])
        grads = torch.autograd.grad(self.train_loss(train), self.params, create_graph=True)
        flat_grad = torch.cat([g.reshape(-1) for g in grads])
        p, cur = v.clone(), v.clone()
        for _ in range(i):
            hv = torch.autograd.grad(flat_grad, self.params, grad_outputs=cur, retain_graph=True)
            cur = cur - alpha * torch.cat([h.reshape(-1) for h in hv])
            p = p + cur
        mixed = torch.autograd.grad(flat_grad, self.log_decay, grad_outputs=alpha * p)
        for t, m in zip(self.log_decay, mixed, strict=True):
            t.grad = -m  # no direct term: the hypergradient is minus the mixed term
        optimizer.step()


def timed(fn: Callable[[], None]) -> float:
    """CPU seconds of this process spent in ``fn``.

    CPU time rather than wall time: with one compute thread it is the work done, and it stays meaningful on a
    machine shared with other jobs, where wall time mostly measures the scheduler's time slices.
    """
    start = time.process_time()
    fn()
    return time.process_time() - start


def paired_ratio(fn: Callable[[], None], base: Callable[[], None], reps: int) -> tuple[float, float]:
    """Median of ``time(fn) / time(base)`` over ``reps`` interleaved pairs, and the median time of ``fn``.

    Interleaving makes the ratio robust to other load on the machine, which changes slowly compared to one pair.
    """
    fn()  # warm-up call (allocator, lazy initialisation, first Lanczos estimate)
    ratios, times = [], []
    for _ in range(reps):
        b = timed(base)
        t = timed(fn)
        ratios.append(t / b)
        times.append(t)
    return statistics.median(ratios), statistics.median(times)


def run_overhead(setup: Setup, hyper: HyperOptimizer, every: int, blocks: int) -> float:
    """Median over interleaved blocks of time(``every`` steps + one hyper-step) / time(``every`` steps)."""

    def plain_block() -> None:
        for _ in range(every):
            setup.plain_step()

    def hyper_block() -> None:
        plain_block()
        setup.hyper_step(hyper)

    return paired_ratio(hyper_block, plain_block, blocks)[0]


def rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize()


def memory_probe(method: str, i: int, batch: int) -> None:
    """Subprocess entry: print peak RSS above the post-import baseline for one configuration, as JSON."""
    torch.set_num_threads(1)
    setup = Setup(batch)
    setup.x.sum()  # data loaded and touched
    baseline = rss_bytes()
    for _ in range(5):
        setup.plain_step()
    if method != "plain":
        hyper = setup.hyper_optimizer(method, i)
        for _ in range(3):
            setup.hyper_step(hyper)
            setup.plain_step()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(json.dumps({"method": method, "i": i, "peak_above_baseline": peak - baseline}))


def measure_memory(method: str, i: int, batch: int) -> float:
    out = subprocess.run(
        [sys.executable, __file__, "--memory-probe", method, str(i), "--batch", str(batch)],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])["peak_above_baseline"] / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="smoke run: few repetitions, short runs")
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--reps", type=int, default=9)
    parser.add_argument("--warmup", type=int, default=200, help="training steps before measuring")
    parser.add_argument("--blocks", type=int, default=12, help="interleaved blocks per whole-run overhead")
    parser.add_argument("--memory-probe", nargs=2, metavar=("METHOD", "I"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_probe:
        memory_probe(args.memory_probe[0], int(args.memory_probe[1]), args.batch)
        return
    torch.set_num_threads(1)
    reps, warmup, blocks = (3, 20, 2) if args.quick else (args.reps, args.warmup, args.blocks)
    terms = (5,) if args.quick else TERMS

    setup = Setup(args.batch)
    for _ in range(warmup):
        setup.plain_step()
    plain = statistics.median(timed(setup.plain_step) for _ in range(4 * reps))
    plain_mem = measure_memory("plain", 0, args.batch)
    print(f"plain step {plain * 1e3:.1f} ms, peak memory above baseline {plain_mem:.0f} MiB", file=sys.stderr)

    rows = []
    for method in ("cg", "neumann"):
        for i in terms:
            hyper = setup.hyper_optimizer(method, i)
            ratio, step = paired_ratio(lambda hyper=hyper: setup.hyper_step(hyper), setup.plain_step, reps)
            n_before = (hyper.n_hvp, hyper.n_steps)
            overhead = {every: run_overhead(setup, hyper, every, blocks) for every in (5, 10)}
            hvps = (hyper.n_hvp - n_before[0]) / (hyper.n_steps - n_before[1])
            mem = measure_memory(method, i, args.batch)
            rows.append((method, i, ratio, step, hvps, hyper.n_truncated, overhead, mem))
            print(f"{method} i={i}: {ratio:.2f}x, overhead {overhead}", file=sys.stderr)
    naive = []
    naive_opt = torch.optim.Adam(setup.log_decay, lr=1e-2)
    for i in terms:
        ratio, step = paired_ratio(
            lambda i=i: setup.naive_hyper_step(i, 1e-3, naive_opt), setup.plain_step, reps
        )
        naive.append((i, ratio, step))

    print(
        f"Per-weight decay, MLP 64-1024-1024-10 on load_digits ({setup.n_params:,} weights = hyperparameters),"
    )
    print(
        f"float32, batch {args.batch}, damping {DAMPING}; plain training step {plain * 1e3:.1f} CPU ms (median);"
    )
    print(f"plain training peak memory above the import baseline: {plain_mem:.0f} MiB.\n")
    print(
        "| method | HVPs i | hyper-step (CPU ms) | × plain step | whole run, hyper-step every 5 | every 10 | "
        "peak memory above baseline (MiB) | × plain memory |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for method, i, ratio, step, hvps, truncated, overhead, mem in rows:
        note = f", {truncated} truncated" if truncated else ""
        label = "CG" if method == "cg" else "Neumann, alpha=1/lambda_max (Lanczos every 10 hyper-steps)"
        print(
            f"| {label} | {i} ({hvps:.1f} on average{note}) | {step * 1e3:.0f} | {ratio:.2f}× | "
            f"{overhead[5]:.2f}× | {overhead[10]:.2f}× | {mem:.0f} | {mem / plain_mem:.2f}× |"
        )
    for i, ratio, step in naive:
        print(
            f"| naive flat Neumann (same machine, reference) | {i} | {step * 1e3:.0f} | {ratio:.2f}× | | | | |"
        )
    print(
        f"\nrun: python benchmarks/implicit_cost.py{' --quick' if args.quick else ''} "
        f"on {platform.machine()} ({os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at the end), "
        f"{torch.get_num_threads()} thread, torch {torch.__version__}, python {platform.python_version()}"
    )


if __name__ == "__main__":
    main()
