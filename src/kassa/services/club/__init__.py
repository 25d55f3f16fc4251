"""A computer club's world, as services: clubs with their zones and member groups
(`clubs`), PCs as devices of kind `club_pc` of the device core (`pcs`), customers (`customers`)
with a ledger of money and time (`ledger`), tariffs, packages and the price preview with the
fixed order time is used in (`pricing`, `packages`), the Games and Apps catalogue and its launch
logs (`apps`), and `kassa audit`'s check that balances equal their ledgers (`audit`).

Sessions on the ledger (`sessions`), the PCs' heartbeats and leases in each hub process
(`floor`) and remote actions on PCs (`actions`). Shifts, the dashboard, online top-ups, the
LoVHub launchers' API and the PC agent are to come; they build on these.
"""
