"""Admin users and what they do: accounts and roles (`users`), signing in (`logins`), and the
audit log of their actions (`audit`)."""
