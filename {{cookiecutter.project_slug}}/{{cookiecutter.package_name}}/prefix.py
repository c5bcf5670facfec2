"""The URL prefix: its one spelling, its agreement with the deploy files, and serving the app under it whether or
not the server in front already handled the prefix. Shared by every framework.
"""

import re
from pathlib import Path
from urllib.parse import quote

# The deploy files that name the URL prefix they were generated for (those the project has): the proxy's are the app's
# lines its site includes.
PREFIX_FILES = (
    "deploy/nginx-shared-site.conf",
    "deploy/apache-shared-site.conf",
    "deploy/gunicorn.conf.py",
    "deploy/uwsgi.ini",
)
# Characters that may continue a URL path segment: next to one of them, the prefix is part of another path.
PATH_CHARACTER = "A-Za-z0-9._~%-"


def clean_url_prefix(prefix: str) -> str:
    """The prefix without a trailing slash: "/eegqc", or the empty string for the site root. ValueError otherwise."""
    prefix = prefix.rstrip("/")
    if prefix and (not prefix.startswith("/") or "//" in prefix or " " in prefix):
        raise ValueError(f"URL_PREFIX must be empty or an absolute path such as /eegqc, not {prefix!r}")
    return prefix


def mentions_prefix(text: str, prefix: str) -> bool:
    """Does `text` name the path `prefix` itself, not a longer one ("/eegqcx", "/lab/eegqc") that merely contains it?"""
    whole_path = rf"(?<![{PATH_CHARACTER}/]){re.escape(prefix)}(?![{PATH_CHARACTER}])"
    return re.search(whole_path, text) is not None


def files_without_prefix(project_root: Path, prefix: str) -> list[str]:
    """The deploy files (see PREFIX_FILES) that do not name `prefix`: there the server in front and the app disagree.

    Nothing to compare for the site root: every file names "/".
    """
    if not prefix:
        return []
    return [
        name
        for name in PREFIX_FILES
        if (project_root / name).exists() and not mentions_prefix((project_root / name).read_text(), prefix)
    ]


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
