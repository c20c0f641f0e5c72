"""Multi-fidelity scheduling: stopping-type asynchronous successive halving (ASHA) with Hyperband brackets.

Everything here is a pure function of numbers the storage holds (the study seed, trial numbers and the intermediate
values each trial reported), so any worker process reaches the same decision; nothing is cached between calls.

Resource and rungs (design.md §3; Li et al. 2020, ASHA; Salinas et al. 2023, ASHA-CQR)::

    r_min = Fidelity.min, R = Fidelity.max, eta = Fidelity.eta
    rung levels          r_k = r_min * eta^k  for k = 0, 1, ...  while r_k < R   (R itself is completion, not a rung)
    S                    = number of rung levels  (Hyperband's s_max = floor(log_eta(R / r_min)) when R is a rung power)
    bracket b (0..S)     first judged at r_b (r_S = R: never stopped); b = 0 alone is plain ASHA
    P(bracket b)         proportional to ceil((S + 1) / (S - b + 1) * eta^(S - b)), Hyperband's trial counts per bracket

A trial trains step by step from step 1 and reports ``value`` after ``step`` units of resource. Its value *at rung
r* is the value of its first report at a step ``>= r`` (so a trial that reports every other epoch still reaches the
rung). When a report crosses a rung ``r >= r_b`` of the trial's bracket, the trial is ranked against every value
recorded at rung ``r`` so far (its own included, ``n`` values), and it stops unless it is in the top ``1/eta``::

    k     = max(1, floor(n / eta))                        how many of the n may go on: at most a 1/eta share
    stop  iff  #{values strictly better than v} >= k

The ``max(1, .)`` lets the best value so far continue while a rung holds fewer than ``eta`` values (so the first
trial at a rung goes on); ties get the benefit of the doubt. The values at a rung are pooled over brackets: a bracket only sets the grace period. Why pooled: with
asynchronous brackets every bracket sees a fraction of the trials, and a decision against two or three values is
mostly noise; pooling ranks each trial against everything measured at that resource.

Orientation: values here are *minimized*; :mod:`hpo.study` flips the sign of a maximized objective before calling in.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = [
    "Fidelity",
    "assign_bracket",
    "bracket_probabilities",
    "rung_value",
    "highest_rung_value",
    "should_stop",
    "crossed_rungs",
    "stop_decision",
]

#: salt of the bracket draw, so it is independent of the proposal drawn from the same (seed, trial number)
_BRACKET_SALT = 0x48424B54


def _positive_int(cls: str, key: str, value: Any, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        else:
            raise ValueError(f"{cls}({key}={value!r}): {key} must be an integer >= {low}")
    if int(value) < low:
        raise ValueError(f"{cls}({key}={value!r}): {key} must be an integer >= {low}")
    return int(value)


@dataclass(frozen=True)
class Fidelity:
    """The resource a trial may use (epochs, steps, data shards) and how successive halving spends it.

    Args:
        min: the smallest resource at which a trial is judged (the first rung), an integer >= 1.
        max: the most resource a trial may use (a trial that reaches it is complete), an integer >= ``min``.
        eta: reduction factor: at each rung only the best ``1/eta`` continue; an integer >= 2.
        brackets: how many Hyperband brackets (each with a larger minimum resource) trials are spread over;
            None uses all of them, 1 (the default) is plain ASHA (every trial judged from ``min`` on). Why plain
            ASHA by default: on both multi-fidelity benchmarks, with the GP and with CQR, it reached better values
            at 25, 50 and 100 % of the budget than Hyperband's brackets, whose higher minimum resources spend the
            budget on fewer configurations (docs/cqr_multifidelity.md, session 4).

    Raises:
        ValueError: a bound, ``eta`` or ``brackets`` that is not an integer in range; the message names it.
    """

    min: int
    max: int
    eta: int = 3
    brackets: int | None = 1

    def __post_init__(self) -> None:
        lo = _positive_int("Fidelity", "min", self.min, 1)
        hi = _positive_int("Fidelity", "max", self.max, 1)
        if hi < lo:
            raise ValueError(f"Fidelity(min={self.min!r}, max={self.max!r}): max must be >= min")
        eta = _positive_int("Fidelity", "eta", self.eta, 2)
        object.__setattr__(self, "min", lo)
        object.__setattr__(self, "max", hi)
        object.__setattr__(self, "eta", eta)
        if self.brackets is not None:
            object.__setattr__(self, "brackets", _positive_int("Fidelity", "brackets", self.brackets, 1))

    # ------------------------------------------------------------------ rungs and brackets
    @property
    def rungs(self) -> tuple[int, ...]:
        """Rung levels ``min * eta^k < max``, ascending (empty when ``min == max``)."""
        out, r = [], self.min
        while r < self.max:
            out.append(r)
            r *= self.eta
        return tuple(out)

    @property
    def n_brackets(self) -> int:
        """Brackets in use: ``min(brackets, len(rungs) + 1)``; the last possible one runs every trial to ``max``."""
        most = len(self.rungs) + 1
        return most if self.brackets is None else min(self.brackets, most)

    def bracket_min_resource(self, bracket: int) -> int:
        """The first rung at which trials of ``bracket`` are judged (``max`` for the last bracket: never stopped)."""
        rungs = self.rungs
        return rungs[bracket] if bracket < len(rungs) else self.max

    def bracket_rungs(self, bracket: int) -> tuple[int, ...]:
        """The rung levels at which trials of ``bracket`` can be stopped."""
        return tuple(r for r in self.rungs if r >= self.bracket_min_resource(bracket))

    # ------------------------------------------------------------------ storage form
    def to_dict(self) -> dict[str, Any]:
        """JSON-serializable form, stored in the study configuration."""
        return {"min": self.min, "max": self.max, "eta": self.eta, "brackets": self.brackets}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Fidelity:
        """Inverse of :meth:`to_dict` (also accepts ``{min, max, eta}`` as the CLI's YAML gives it).

        Raises:
            ValueError: unknown keys (named in the message) or bad values.
        """
        unknown = set(d) - {"min", "max", "eta", "brackets"}
        if unknown:
            raise ValueError(
                f"fidelity keys {sorted(unknown)!r} are unknown; expected min, max, eta, brackets"
            )
        return cls(**dict(d))

    @classmethod
    def coerce(cls, value: Any) -> Fidelity | None:
        """A :class:`Fidelity` from a Fidelity, a dict, or None.

        Raises:
            TypeError: anything else.
        """
        if value is None or isinstance(value, Fidelity):
            return value
        if isinstance(value, Mapping):
            return cls.from_dict(value)
        raise TypeError(f"fidelity={value!r}: expected hpo.Fidelity(min, max, eta=3), a dict, or None")


def bracket_probabilities(fidelity: Fidelity) -> np.ndarray:
    """``(B,)`` probability of each bracket: Hyperband's number of trials per bracket, normalized."""
    S = len(fidelity.rungs)
    eta = fidelity.eta
    counts = np.array(
        [math.ceil((S + 1) / (S - b + 1) * eta ** (S - b)) for b in range(fidelity.n_brackets)], dtype=float
    )
    return counts / counts.sum()


def assign_bracket(fidelity: Fidelity, seed: int, trial_number: int) -> int:
    """The bracket of trial ``trial_number``: a pure function of the study seed and the trial number."""
    if fidelity.n_brackets == 1:
        return 0
    rng = np.random.default_rng(
        np.random.SeedSequence([int(seed) & 0xFFFFFFFF, int(trial_number), _BRACKET_SALT])
    )
    return int(rng.choice(fidelity.n_brackets, p=bracket_probabilities(fidelity)))


# ---------------------------------------------------------------------------------------------- rung values
def rung_value(intermediate: Mapping[int, float], rung: int) -> float | None:
    """The value a trial recorded at ``rung``: its report at the smallest step ``>= rung``, or None."""
    steps = [s for s in intermediate if s >= rung]
    return float(intermediate[min(steps)]) if steps else None


def highest_rung_value(intermediate: Mapping[int, float], fidelity: Fidelity) -> tuple[int, float] | None:
    """``(rung, value)`` at the highest rung level the trial reached, or None if it reached none.

    This is the multi-fidelity aggregation of papers.md §2 ("last observed value" at rung granularity).
    """
    if not intermediate:
        return None
    last = max(intermediate)
    reached = [r for r in fidelity.rungs if r <= last]
    if not reached:
        return None
    r = reached[-1]
    v = rung_value(intermediate, r)
    return None if v is None else (r, v)


def should_stop(value: float, others: Iterable[float], eta: int) -> bool:
    """True when ``value`` is not in the top ``1/eta`` of ``others`` plus itself (smaller is better).

    ``stop iff #{others strictly better than value} >= max(1, floor(n / eta))`` with ``n = len(others) + 1``.
    """
    others = [float(o) for o in others]
    n = len(others) + 1
    better = sum(1 for o in others if o < value)
    return better >= max(1, n // eta)


def crossed_rungs(fidelity: Fidelity, bracket: int, previous_step: int | None, step: int) -> list[int]:
    """Rungs of ``bracket`` that a report at ``step`` reaches for the first time (the previous report being at
    ``previous_step``, or None), ascending."""
    prev = -1 if previous_step is None else previous_step
    return [r for r in fidelity.bracket_rungs(bracket) if prev < r <= step]


def stop_decision(
    fidelity: Fidelity,
    *,
    bracket: int,
    own: Mapping[int, float],
    step: int,
    others: Iterable[Mapping[int, float]],
) -> bool:
    """Whether a trial that has just reported at ``step`` stops there.

    Args:
        fidelity: the study's fidelity.
        bracket: the trial's bracket.
        own: the trial's intermediate values (minimize orientation), the report at ``step`` included.
        step: the step just reported.
        others: the intermediate values of every other trial whose rung values count (minimize orientation).

    Returns:
        True if, at any rung this report reaches for the first time, the trial is not in the top ``1/eta`` of the
        values recorded at that rung so far; never at ``step >= max`` (the trial is complete).
    """
    if (
        step >= fidelity.max
    ):  # the trial has used all its resource: it completes, whatever it passed on the way
        return False
    previous = [s for s in own if s < step]
    rungs = crossed_rungs(fidelity, bracket, max(previous) if previous else None, step)
    if not rungs:
        return False
    others = list(others)
    for r in rungs:
        v = rung_value(own, r)
        if v is None:
            continue
        pool = [x for x in (rung_value(o, r) for o in others) if x is not None]
        if should_stop(v, pool, fidelity.eta):
            return True
    return False
