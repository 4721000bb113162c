"""Exceptions. Every error blur4d raises on purpose derives from :class:`Blur4DError`.

The CLI prints ``str(err)`` of a ``Blur4DError`` as one line and exits 1; anything else is a bug
and shows a traceback with ``--debug``.
"""

from __future__ import annotations


class Blur4DError(Exception):
    """Root of blur4d's exceptions."""


class InputError(Blur4DError, ValueError):
    """Bad user input: a missing/corrupt file, a wrong shape, an out-of-range option."""


class OutputExistsError(InputError):
    """An output exists and ``overwrite`` was not given."""


class MissingDependencyError(Blur4DError, ImportError):
    """An optional package that a feature needs is not installed."""


class BackendError(Blur4DError, RuntimeError):
    """A backend or external tool failed while running."""


class WeightsNotFoundError(Blur4DError, FileNotFoundError):
    """Model weights a backend needs are not available locally."""
