"""Acquisition functions (larger is better) and their optimizer over mixed spaces."""

from acquisition.base import Acquisition

__all__ = ["Acquisition"]
