"""The server listens on a unix socket in the run directory; only the proxy's user (in the app's group) can connect."""
