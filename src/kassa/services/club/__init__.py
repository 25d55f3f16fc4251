"""A computer club's world, as services: clubs with their zones and member groups
(`clubs`), PCs as devices of kind `club_pc` of the device core (`pcs`), customers (`customers`)
with a ledger of money and time (`ledger`), tariffs, packages and the price preview with the
fixed order time is used in (`pricing`, `packages`), the Games and Apps catalogue and its launch
logs (`apps`), and `kassa audit`'s check that balances equal their ledgers (`audit`); the
club's money: online top-ups through the shop's providers credited once (`topups`), shifts
with X and Z reports (`shifts`); who may do what (`access`: the `club_operator` role, and the
audit entries of the admin UI's changes); sessions on the ledger (`sessions`), the PCs'
heartbeats and leases in each hub process (`floor`) and remote actions on PCs (`actions`).

The admin UI's dashboard is `kassa.web.admin.club` and `club_desk`. The LoVHub launchers' API
and the PC agent are to come; they build on these.
"""
