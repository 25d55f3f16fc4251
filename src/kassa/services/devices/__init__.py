"""Connected devices: one core that knows devices only as rows of a kind, and each kind's
rules beside it.

The core: adding, finding, revoking, enabling and disabling devices (`registry`), their
tokens (`tokens`) and right to stay connected (`rights`), presence and heartbeats
(`presence`), operations queued for them and relayed at least once, with acknowledgements
and de-duplication by request id (`queue`, `operations`), the signals between hub processes
(`signals`), and the hub that keeps one process's connections of a kind (`hub`). What a
kind adds: `kinds.DeviceRules`.

The kinds: kiosk terminals (`terminals`; a payment's answer moves the payment:
`terminal_payments`) and a computer club's PCs (`club_pcs`; the club's side of them is
`kassa.services.club.pcs`).
"""
