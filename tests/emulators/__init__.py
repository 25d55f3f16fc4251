"""Emulators of provider APIs: small ASGI apps that behave as the providers document, served
on loopback for tests (never the internet)."""
