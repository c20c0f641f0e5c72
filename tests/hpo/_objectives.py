"""Module-level objectives for tests that spawn worker processes (they must be importable by name)."""

from __future__ import annotations

import math


def quadratic(params: dict) -> float:
    return (params["x"] - 0.3) ** 2 + (params["y"] - 0.7) ** 2


def sometimes_bad(params: dict) -> float:
    if params["x"] < 0.2:
        raise RuntimeError("simulated crash")
    if params["x"] > 0.8:
        return math.nan
    return params["x"]
