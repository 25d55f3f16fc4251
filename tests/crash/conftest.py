"""The crash tests' fixtures: the merchant's webhook receiver, as the webhook tests have it."""

from tests.webhooks.receiver import merchant, receiver  # noqa: F401 - fixtures
