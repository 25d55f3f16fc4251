"""Kassa's services: what the web layer, the CLI and the worker call. They own transactions."""
