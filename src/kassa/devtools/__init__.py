"""Tools for developing and trying Kassa locally; not used by the hub or the agent."""
