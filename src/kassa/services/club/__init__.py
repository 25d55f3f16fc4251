"""A computer club's world, as services: clubs with their zones and member groups
(`clubs`), PCs as devices of kind `club_pc` of the device core (`pcs`), customers (`customers`)
with a ledger of money and time (`ledger`), tariffs, packages and the price preview with the
fixed order time is used in (`pricing`, `packages`), the Games and Apps catalogue and its launch
logs (`apps`), and `kassa audit`'s check that balances equal their ledgers (`audit`).

Sessions with leases, shifts, the dashboard, online top-ups, the LoVHub launchers' API and the
PC agent are to come; they build on these.
"""
