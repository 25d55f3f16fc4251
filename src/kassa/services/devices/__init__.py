"""Connected devices (kiosk terminals today): adding and revoking them (`terminals`), their
tokens (`tokens`) and right to stay connected (`rights`), operations queued for them
(`queue`, `operations`), and the signals between hub processes about them (`signals`)."""
