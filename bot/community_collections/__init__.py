"""Collections that belong to their community: `service` makes them, `records` says which
collection each community mints in."""
