"""Acquisition functions (larger is better) and their optimizer over mixed spaces.

``ACQUISITIONS`` maps each public name to ``"module:factory"``; a factory is called as
``factory(model, y, rng, **options)`` with the fitted surrogate and the ``(n,)`` training targets, and returns an
:class:`Acquisition`. ``DEFAULT_ACQUISITION`` gives each surrogate its own acquisition (design.md §5).
"""

from __future__ import annotations

import importlib
from typing import Any

import numpy as np

from acquisition.base import Acquisition

__all__ = ["Acquisition", "ACQUISITIONS", "DEFAULT_ACQUISITION", "make_acquisition"]

ACQUISITIONS: dict[str, str] = {
    "logei": "acquisition.ei:from_model",
    "ucb": "acquisition.ucb:from_model",
    "thompson": "acquisition.thompson:from_model",
    "goucb": "acquisition.goucb:from_model",
}

#: surrogate name -> acquisition used when the user asks for "auto"
DEFAULT_ACQUISITION: dict[str, str] = {
    "gp": "logei",
    "cqr": "thompson",
    "goucb": "goucb",
}


def make_acquisition(name: str, model: Any, y: np.ndarray, rng: np.random.Generator, **options: Any) -> Acquisition:
    """Build the acquisition ``name`` for a fitted model.

    Raises:
        ValueError: an unknown name.
    """
    if name not in ACQUISITIONS:
        raise ValueError(f"acquisition={name!r} is not one of {sorted(ACQUISITIONS)!r}")
    module, fn = ACQUISITIONS[name].split(":")
    return getattr(importlib.import_module(module), fn)(model, y, rng, **options)
