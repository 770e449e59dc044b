"""Fixtures of the model tests; the stand-in store lives in model_standin.py."""

from model_standin import store

__all__ = ["store"]
