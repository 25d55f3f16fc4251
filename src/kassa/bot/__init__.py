"""The shops' Telegram bots (`kassa bot`): a front-end on aiogram 3 that calls services.

- `connection`: an aiogram `Bot` for a shop's token, on Telegram's servers (production or its
  test environment) or on the Bot API server of `KASSA_TELEGRAM_API_URL`.
- `scope`: what every handler gets besides the update: the shop, its bot's settings, the
  context, and the buyer's language (`texts`).
- `dispatcher`: the one aiogram `Dispatcher` every shop's bot feeds, made of the routers of
  the modules below, in order.
- `start`: `/start` (with the `ref_<code>` and `promo_<CODE>` deep links).
- The buyer's screens, one router each: `catalog` (the plans on sale), `subscription` ("my
  subscription", with the access as a QR code drawn by `qr`), `trial`, `promo`, `referral`,
  `info` (help and terms); `commands` sets the command menu; `errors` apologises for a
  handler that failed.
- `outbox`: sends the messages services leave in `bot_messages` (the access link after an
  activation, …), each rendered by its kind, and marks them sent.
- `runner`: long polling for every configured shop, with the update offset stored, so a
  restart neither loses nor repeats an update; the outbox beside it.

The bot's world (plans, buyers, purchases, activation) is `kassa.services.bot`; this package
holds only what talks to Telegram.
"""
