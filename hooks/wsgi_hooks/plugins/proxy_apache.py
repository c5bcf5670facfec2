"""Apache: the site needs modules that a stock Debian install leaves disabled; deploy/install.sh enables them."""


def site_modules(answers) -> list[str]:
    """The modules deploy/apache.conf needs; the same list as its "# Modules to enable:" line (a test compares)."""
    modules = ["authz_core", "alias", "mime", "headers", "filter", "deflate", "proxy"]
    modules.append("proxy_http" if answers["server"] == "gunicorn" else "proxy_uwsgi")
    if answers["server"] == "uwsgi" and answers.get("websockets") == "channels":
        modules.append("proxy_http")  # Daphne's websockets (upgrade=websocket)
    if answers["tls"] != "none":
        modules.append("ssl")  # last: install.sh --join leaves it out (the joined host's TLS)
    return modules


def next_steps(answers):
    modules = " ".join(site_modules(answers))
    yield f"# Apache modules for deploy/apache.conf (deploy/install.sh enables them): a2enmod {modules}"
