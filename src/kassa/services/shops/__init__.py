"""Shops and who may act for them: shops and their provider accounts (`shops`), API keys
(`keys`), and the embedded defaults `make run` starts with (`bootstrap`)."""
