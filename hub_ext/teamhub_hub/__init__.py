"""teamhub on the hub side: identity to teams (TeamAuthenticator, the teams config), the CLI."""
