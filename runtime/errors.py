"""Typed errors the runtime raises: each message says what went wrong and what to do about it."""

from __future__ import annotations


class EdgeSentimentError(Exception):
    """Base class: the CLI turns any of these into a one-line message and a non-zero exit, never a traceback."""


class BundleError(EdgeSentimentError):
    """A bundle (or model file / tokenizer file) is missing, corrupt, or does not match itself."""


class InputError(EdgeSentimentError, ValueError):
    """One input text cannot be classified. ``index`` names the item in a batch."""

    def __init__(self, message: str, index: int | None = None) -> None:
        super().__init__(message)
        self.index = index


class InputTypeError(InputError, TypeError):
    """A non-string input: both a ``TypeError`` for callers who expect that and an ``InputError``."""


class BackendUnavailableError(EdgeSentimentError):
    """The engine for the asked backend is not installed."""
