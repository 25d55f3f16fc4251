"""Running Kassa for years: the background loop (`background`), the integrity checks of
`kassa audit` (`integrity`), and the figures alerts watch (`vitals`)."""
