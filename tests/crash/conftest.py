"""The crash tests' fixtures: the merchant's webhook receiver, as the webhook tests have it;
Kassa on a module's own database and the Telegram emulator, as the bot's tests have them."""

from tests.bot.conftest import hub, telegram  # noqa: F401 - fixtures
from tests.webhooks.receiver import merchant, receiver  # noqa: F401 - fixtures
