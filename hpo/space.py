"""Search spaces: parameter types, validation, Optuna conversion and unit-cube encoding.

Shapes: ``encode`` maps ``n`` configurations to an ``(n, d)`` float array in ``[0, 1]``; ``decode`` maps an
``(n, d)`` array back to ``n`` configurations. ``d`` counts one column per numeric parameter and one column per
category of a categorical parameter (one-hot), so surrogates never see a fake order between categories.

Why the unit cube: every surrogate (GP, CQR, neural net) and every acquisition optimizer works on the same
bounded box, so log scales, integer rounding and one-hot blocks are handled once, here, and nowhere else.
Integers and stepped floats are encoded over ``[low - step/2, high + step/2]`` so that each admissible value owns an
equal share of ``[0, 1]``; decoding rounds to the nearest admissible value.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from optuna.distributions import (
    BaseDistribution,
    CategoricalChoiceType,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)

__all__ = ["Float", "Int", "Categorical", "Param", "SearchSpace", "as_param"]


def _check_finite(name: str, value: Any) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise TypeError(f"{name}={value!r} must be a number") from None
    if not math.isfinite(v):
        raise ValueError(f"{name}={value!r} must be finite")
    return v


@dataclass(frozen=True)
class Float:
    """A real-valued parameter in ``[low, high]``, optionally on a log scale or a step grid.

    Raises:
        ValueError: ``low >= high``, ``log`` with ``low <= 0``, ``log`` together with ``step``, or a step
            that is not positive.
    """

    low: float
    high: float
    log: bool = False
    step: float | None = None

    def __post_init__(self) -> None:
        low = _check_finite("low", self.low)
        high = _check_finite("high", self.high)
        if low >= high:
            raise ValueError(f"Float(low={self.low!r}, high={self.high!r}): low must be < high")
        if self.log and low <= 0:
            raise ValueError(
                f"Float(low={self.low!r}, high={self.high!r}, log=True): low must be > 0 on a log scale"
            )
        if self.step is not None:
            step = _check_finite("step", self.step)
            if step <= 0:
                raise ValueError(f"Float(step={self.step!r}): step must be > 0")
            if self.log:
                raise ValueError(f"Float(step={self.step!r}, log=True): step and log cannot be combined")
            object.__setattr__(self, "step", step)
        object.__setattr__(self, "low", low)
        object.__setattr__(self, "high", high)

    def to_optuna(self) -> FloatDistribution:
        return FloatDistribution(self.low, self.high, log=self.log, step=self.step)


@dataclass(frozen=True)
class Int:
    """An integer parameter in ``[low, high]`` (both included), optionally log-scaled or with a step.

    Raises:
        ValueError: bounds that are not integers, ``low > high``, a non-positive ``step``, ``log`` with
            ``low < 1``, or ``log`` with ``step != 1``.
    """

    low: int
    high: int
    log: bool = False
    step: int = 1

    def __post_init__(self) -> None:
        for key in ("low", "high", "step"):
            v = getattr(self, key)
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
                if isinstance(v, float) and v.is_integer():
                    object.__setattr__(self, key, int(v))
                else:
                    raise TypeError(f"Int({key}={v!r}): {key} must be an integer")
            else:
                object.__setattr__(self, key, int(v))
        if self.low > self.high:
            raise ValueError(f"Int(low={self.low!r}, high={self.high!r}): low must be <= high")
        if self.step <= 0:
            raise ValueError(f"Int(step={self.step!r}): step must be > 0")
        if self.log and self.low < 1:
            raise ValueError(f"Int(low={self.low!r}, log=True): low must be >= 1 on a log scale")
        if self.log and self.step != 1:
            raise ValueError(f"Int(step={self.step!r}, log=True): step must be 1 on a log scale")
        if (self.high - self.low) % self.step:
            raise ValueError(
                f"Int(low={self.low!r}, high={self.high!r}, step={self.step!r}): high - low must be a multiple of step"
            )

    def to_optuna(self) -> IntDistribution:
        return IntDistribution(self.low, self.high, log=self.log, step=self.step)


@dataclass(frozen=True)
class Categorical:
    """An unordered choice among ``choices`` (None, bool, int, float or str, as Optuna stores them).

    Raises:
        ValueError: no choices, or repeated choices.
        TypeError: a choice of a type Optuna cannot store.
    """

    choices: tuple[CategoricalChoiceType, ...] = field()

    def __init__(self, choices: Iterable[CategoricalChoiceType]) -> None:
        if isinstance(choices, (str, bytes)):
            raise TypeError(f"Categorical(choices={choices!r}): choices must be a list, not a string")
        chs = tuple(choices)
        if not chs:
            raise ValueError("Categorical(choices=[]): at least one choice is required")
        for c in chs:
            if c is not None and not isinstance(c, (bool, int, float, str)):
                raise TypeError(
                    f"Categorical(choices={list(chs)!r}): choice {c!r} of type {type(c).__name__} is not one of "
                    "None, bool, int, float, str"
                )
        if len(set(map(repr, chs))) != len(chs):
            raise ValueError(f"Categorical(choices={list(chs)!r}): choices must be unique")
        object.__setattr__(self, "choices", chs)

    def to_optuna(self) -> CategoricalDistribution:
        return CategoricalDistribution(self.choices)


Param = Float | Int | Categorical


def as_param(name: str, spec: Any) -> Param:
    """Turn an hpo parameter or an Optuna distribution into an hpo parameter.

    Raises:
        TypeError: ``spec`` is neither; the message names the parameter.
    """
    if isinstance(spec, (Float, Int, Categorical)):
        return spec
    if isinstance(spec, FloatDistribution):
        return Float(spec.low, spec.high, log=spec.log, step=spec.step)
    if isinstance(spec, IntDistribution):
        return Int(spec.low, spec.high, log=spec.log, step=spec.step)
    if isinstance(spec, CategoricalDistribution):
        return Categorical(spec.choices)
    raise TypeError(
        f"space[{name!r}]={spec!r}: expected hpo.Float, hpo.Int, hpo.Categorical or an Optuna distribution"
    )


@dataclass(frozen=True)
class _Column:
    """Where one parameter lives in the encoded vector and how to map it."""

    name: str
    param: Param
    start: int
    width: int
    # numeric parameters: transformed bounds of the encoded interval
    lo: float = 0.0
    hi: float = 1.0


class SearchSpace:
    """An ordered mapping of parameter names to parameters that owns the unit-cube encoding.

    Args:
        params: ``{name: Float | Int | Categorical | optuna distribution}``; the order is kept.

    Raises:
        ValueError: an empty space or an empty parameter name.
    """

    def __init__(self, params: Mapping[str, Any]) -> None:
        if not isinstance(params, Mapping):
            raise TypeError(f"space={params!r}: expected a dict of name -> parameter")
        if not params:
            raise ValueError("space={}: at least one parameter is required")
        self.params: dict[str, Param] = {}
        cols: list[_Column] = []
        start = 0
        for name, spec in params.items():
            if not isinstance(name, str) or not name:
                raise ValueError(f"space key {name!r}: parameter names must be non-empty strings")
            p = as_param(name, spec)
            self.params[name] = p
            if isinstance(p, Categorical):
                cols.append(_Column(name, p, start, len(p.choices)))
                start += len(p.choices)
            else:
                lo, hi = self._interval(p)
                cols.append(_Column(name, p, start, 1, lo, hi))
                start += 1
        self._cols = tuple(cols)
        self.dim = start

    # ------------------------------------------------------------------ structure
    @staticmethod
    def _interval(p: Float | Int) -> tuple[float, float]:
        if p.step is not None and not p.log:
            half = p.step / 2.0
            return p.low - half, p.high + half
        if isinstance(p, Int):
            lo, hi = p.low - 0.5, p.high + 0.5
            return (math.log(lo), math.log(hi)) if p.log else (lo, hi)
        return (math.log(p.low), math.log(p.high)) if p.log else (p.low, p.high)

    @property
    def names(self) -> list[str]:
        return list(self.params)

    def __len__(self) -> int:
        return len(self.params)

    def __iter__(self):
        return iter(self.params)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SearchSpace) and self.params == other.params

    def __repr__(self) -> str:
        return f"SearchSpace({self.params!r})"

    @property
    def continuous_mask(self) -> np.ndarray:
        """``(d,)`` bool: columns a gradient optimizer may move freely (continuous floats, no step)."""
        mask = np.zeros(self.dim, dtype=bool)
        for c in self._cols:
            if isinstance(c.param, Float) and c.param.step is None:
                mask[c.start] = True
        return mask

    @property
    def discrete_columns(self) -> list[tuple[str, int, int]]:
        """``(name, start, width)`` of integer, stepped and categorical parameters."""
        return [
            (c.name, c.start, c.width)
            for c in self._cols
            if not (isinstance(c.param, Float) and c.param.step is None)
        ]

    @property
    def categorical_blocks(self) -> list[tuple[int, int]]:
        """``(start, width)`` of each one-hot block."""
        return [(c.start, c.width) for c in self._cols if isinstance(c.param, Categorical)]

    # ------------------------------------------------------------------ optuna
    def to_optuna(self) -> dict[str, BaseDistribution]:
        return {n: p.to_optuna() for n, p in self.params.items()}

    @classmethod
    def from_optuna(cls, distributions: Mapping[str, BaseDistribution]) -> SearchSpace:
        return cls(dict(distributions))

    # ------------------------------------------------------------------ encoding
    def encode(self, configs: Sequence[Mapping[str, Any]]) -> np.ndarray:
        """Map configurations to an ``(n, d)`` array in ``[0, 1]``.

        Raises:
            KeyError: a configuration lacks a parameter.
            ValueError: a value outside its parameter's range or an unknown category.
        """
        X = np.zeros((len(configs), self.dim))
        for i, cfg in enumerate(configs):
            for c in self._cols:
                if c.name not in cfg:
                    raise KeyError(f"configuration {dict(cfg)!r} lacks parameter {c.name!r}")
                v = cfg[c.name]
                p = c.param
                if isinstance(p, Categorical):
                    idx = self._choice_index(c.name, p, v)
                    X[i, c.start + idx] = 1.0
                    continue
                fv = float(v)
                if not (p.low - 1e-9 * max(1.0, abs(p.low)) <= fv <= p.high + 1e-9 * max(1.0, abs(p.high))):
                    raise ValueError(f"{c.name}={v!r} is outside [{p.low}, {p.high}]")
                t = math.log(fv) if p.log else fv
                X[i, c.start] = (t - c.lo) / (c.hi - c.lo)
        return np.clip(X, 0.0, 1.0)

    @staticmethod
    def _choice_index(name: str, p: Categorical, v: Any) -> int:
        for k, ch in enumerate(p.choices):
            if ch == v and type(ch) is type(v) or (ch is None and v is None):
                return k
        for k, ch in enumerate(p.choices):
            if ch == v:
                return k
        raise ValueError(f"{name}={v!r} is not one of the choices {list(p.choices)!r}")

    def decode(self, X: np.ndarray) -> list[dict[str, Any]]:
        """Map an ``(n, d)`` array back to configurations, rounding integers/steps and taking the argmax of
        each one-hot block."""
        X = np.atleast_2d(np.asarray(X, dtype=float))
        if X.shape[1] != self.dim:
            raise ValueError(f"X has {X.shape[1]} columns, the space encodes to {self.dim}")
        out: list[dict[str, Any]] = []
        for row in X:
            cfg: dict[str, Any] = {}
            for c in self._cols:
                cfg[c.name] = self._decode_one(c, row)
            out.append(cfg)
        return out

    def _decode_one(self, c: _Column, row: np.ndarray) -> Any:
        p = c.param
        if isinstance(p, Categorical):
            return p.choices[int(np.argmax(row[c.start : c.start + c.width]))]
        u = float(np.clip(row[c.start], 0.0, 1.0))
        t = c.lo + u * (c.hi - c.lo)
        v = math.exp(t) if p.log else t
        if isinstance(p, Int):
            k = round((v - p.low) / p.step)
            k = min(max(k, 0), (p.high - p.low) // p.step)
            return int(p.low + k * p.step)
        if p.step is not None:
            n_steps = int(round((p.high - p.low) / p.step))
            k = min(max(round((v - p.low) / p.step), 0), n_steps)
            return float(min(p.low + k * p.step, p.high))
        return float(min(max(v, p.low), p.high))

    def round_encoded(self, X: np.ndarray) -> np.ndarray:
        """Snap encoded points onto admissible values, vectorized: same result as ``encode(decode(X))``.

        ``(n, d) -> (n, d)``: integer and stepped columns move to the encoding of their nearest admissible value,
        one-hot blocks become proper one-hot vectors, continuous columns are clipped to ``[0, 1]``.
        """
        X = np.clip(np.array(X, dtype=float, copy=True), 0.0, 1.0)
        for c in self._cols:
            p = c.param
            if isinstance(p, Categorical):
                continue
            if isinstance(p, Float) and p.step is None:
                continue
            t = c.lo + X[:, c.start] * (c.hi - c.lo)
            v = np.exp(t) if p.log else t
            step = float(p.step)
            k_max = round((p.high - p.low) / step)
            k = np.clip(np.round((v - p.low) / step), 0, k_max)
            v = p.low + k * step
            t = np.log(v) if p.log else v
            X[:, c.start] = (t - c.lo) / (c.hi - c.lo)
        return self.project(X)

    def neighbours(self, x: np.ndarray) -> np.ndarray:
        """Encoded neighbours of one encoded point ``(d,)`` along discrete parameters, ``(k, d)``.

        Integers and stepped floats move one step down or up; a categorical switches to each other choice.
        """
        out = []
        for c in self._cols:
            p = c.param
            if isinstance(p, Categorical):
                cur = int(np.argmax(x[c.start : c.start + c.width]))
                for j in range(c.width):
                    if j != cur:
                        y = x.copy()
                        y[c.start : c.start + c.width] = 0.0
                        y[c.start + j] = 1.0
                        out.append(y)
                continue
            if isinstance(p, Float) and p.step is None:
                continue
            t = c.lo + x[c.start] * (c.hi - c.lo)
            v = math.exp(t) if p.log else t
            step = float(p.step)
            k_max = round((p.high - p.low) / step)
            k = min(max(round((v - p.low) / step), 0), k_max)
            for kk in (k - 1, k + 1):
                if 0 <= kk <= k_max:
                    nv = p.low + kk * step
                    nt = math.log(nv) if p.log else nv
                    y = x.copy()
                    y[c.start] = (nt - c.lo) / (c.hi - c.lo)
                    out.append(y)
        return np.array(out).reshape(-1, self.dim)

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """``n`` uniform random encoded points ``(n, d)``: uniform in the encoded (log) scale, one-hot blocks
        with a uniformly chosen category."""
        X = rng.random((n, self.dim))
        return self.project(X)

    def project(self, X: np.ndarray) -> np.ndarray:
        """Make every one-hot block of a relaxed ``(n, d)`` array a proper one-hot vector (argmax)."""
        X = np.array(X, dtype=float, copy=True)
        for start, width in self.categorical_blocks:
            block = X[:, start : start + width]
            idx = np.argmax(block, axis=1)
            X[:, start : start + width] = 0.0
            X[np.arange(len(X)), start + idx] = 1.0
        return X

    def validate(self, config: Mapping[str, Any]) -> dict[str, Any]:
        """Check a user-given configuration (e.g. for ``enqueue``) and return it as a plain dict.

        Raises:
            KeyError, ValueError: missing/unknown parameters or values out of range.
        """
        unknown = set(config) - set(self.params)
        if unknown:
            raise KeyError(f"unknown parameter(s) {sorted(unknown)!r}; the space has {self.names!r}")
        self.encode([config])
        return dict(config)
