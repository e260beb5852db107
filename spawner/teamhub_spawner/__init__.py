"""teamhub spawner: TeamSpawner and the pure builders of each user's Kubernetes objects."""
