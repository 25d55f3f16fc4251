"""Signed event webhooks to a shop's own apps: endpoints and their secrets (`endpoints`),
where deliveries may go (`destinations`), fan-out from the outbox (`fanout`), deliveries and
their retry schedule (`deliveries`), sending them (`sending`: the dispatcher and resending by
hand) by claiming them (`claims`), posting them (`posting`) and recording the attempts
(`recording`), and waking the sender (`wakeups`)."""
