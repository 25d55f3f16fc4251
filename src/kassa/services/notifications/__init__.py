"""Provider notifications: received, stored, verified and applied (`inbound`), simple ones
applied together in a group commit (`batch`), and `kassa simulate` (`simulate`)."""
