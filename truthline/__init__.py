"""Truthline: an open, self-hostable data engine for AI training and evaluation data."""

__version__ = "0.1.0"
