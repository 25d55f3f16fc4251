"""A computer club's PCs, the second kind of device: the kind and its rules. What a PC is in
its club (the club, the zone, the alias staff see) is `kassa.services.club.pcs`'; tokens,
revoking, enabling and presence are the device core's. A PC's operations (the remote actions
of `kassa.protocol.club.Action`, queued by `kassa.services.club.sessions` and `actions`)
change nothing when answered beyond the operation itself, so the kind has no `settle` rule.
"""

from __future__ import annotations

from kassa.domain.devices import DeviceKind
from kassa.services.devices.kinds import DeviceRules

KIND = DeviceKind.CLUB_PC
RULES = DeviceRules(KIND)
