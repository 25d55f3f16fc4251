"""Provider notifications: received, verified, stored and answered (`inbound`); applied by one
definition (`applying`), the simple ones of a group commit together (`batch`); what is kept of
rejected ones and their expiry (`rejected`); reading what is stored (`inbox`); and
`kassa simulate` (`simulate`)."""
