"""The server listens on 127.0.0.1:port (or faces clients on the port when there is no proxy)."""
