"""The web layer: the merchant API, provider notification hooks, and Kassa's pages."""

from kassa.web.app import create_app

__all__ = ["create_app"]
