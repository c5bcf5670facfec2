"""Serve the application under its URL prefix, whether or not the server in front already handled the prefix."""

from urllib.parse import quote


class PrefixMiddleware:
    """WSGI middleware for an app that lives under `prefix` (e.g. "/eegqc"; "" for the site root).

    gunicorn (SCRIPT_NAME) and uWSGI (mount) usually move the prefix from PATH_INFO to SCRIPT_NAME already; the
    development server and a server without that setting do not. Either way the app then sees SCRIPT_NAME=prefix and
    a PATH_INFO below it, so every URL the framework builds carries the prefix. `prefix` alone redirects to `prefix/`;
    a path outside the prefix gets a plain 404, never the app.
    """

    def __init__(self, app, prefix: str):
        self.app = app
        self.prefix = prefix.rstrip("/")

    def __call__(self, environ, start_response):
        if not self.prefix:
            return self.app(environ, start_response)
        script_name = environ.get("SCRIPT_NAME", "")
        path = environ.get("PATH_INFO", "")
        if script_name == self.prefix and not path:
            # Split by the server from a request for the prefix alone (uWSGI's mount does that): same as below.
            return self.redirect_to_slash(environ, start_response, "")
        if script_name.rstrip("/") == self.prefix:
            # Already split by the server; Apache's mod_proxy_uwsgi leaves a trailing slash on SCRIPT_NAME.
            environ["SCRIPT_NAME"] = self.prefix
            environ["PATH_INFO"] = path if path.startswith("/") else "/" + path
        elif path == self.prefix:
            return self.redirect_to_slash(environ, start_response, script_name)
        elif path.startswith(self.prefix + "/"):
            environ["SCRIPT_NAME"] = script_name + self.prefix
            environ["PATH_INFO"] = path[len(self.prefix) :]
        else:
            start_response("404 Not Found", [("Content-Type", "text/plain; charset=utf-8")])
            return [b"Not Found\n"]
        return self.app(environ, start_response)

    def redirect_to_slash(self, environ, start_response, script_name):
        location = quote(script_name + self.prefix + "/")
        if environ.get("QUERY_STRING"):
            location += "?" + environ["QUERY_STRING"]
        start_response("308 Permanent Redirect", [("Location", location), ("Content-Type", "text/plain")])
        return [b""]
