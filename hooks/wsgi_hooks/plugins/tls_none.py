"""Plain HTTP: the proxy listens on port 80 (use it when HTTPS is terminated elsewhere, or for a test server)."""
