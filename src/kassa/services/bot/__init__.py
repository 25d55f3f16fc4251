"""The world of a shop's Telegram bot, as services: its settings (`settings`), the plans it
sells (`plans`), its buyers with their subscriptions, trials, promo codes and referrals
(`buyers`, `promos`; a code entered in the bot: `promo_entry`), purchases paid through any
of the shop's providers (`purchases`), and the activation of a paid purchase exactly once
(`activation`: an event consumer of `payment.succeeded` and the job that provisions the VPN
panel and writes the buyer's message).

The bot process itself (aiogram) is not here: it calls these services, and sends the messages
`activation` leaves in `bot_messages`.
"""
