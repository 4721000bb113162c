"""Command-line interface; thin: parse -> :mod:`blur4d.api` -> exit code."""

from .main import main

__all__ = ["main"]
