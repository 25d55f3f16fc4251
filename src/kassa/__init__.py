"""Kassa: a self-hosted payments hub."""

__version__ = "0.1.0"
