"""Events: the outbox written with every change (`outbox`), readers' positions in it
(`cursor`), and in-process consumers that act on events exactly once (`consumers`)."""
