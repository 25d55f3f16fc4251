"""Running Kassa for years: the background loop (`background`), the integrity checks of
`kassa audit` (`integrity`), the figures alerts watch (`vitals`), and whether this process
can serve (`readiness`)."""
