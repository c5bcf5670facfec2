"""Plotly Dash runs on a Flask server and shares its manage commands, so its next steps are Flask's."""

from wsgi_hooks.plugins.framework_flask import next_steps

__all__ = ["next_steps"]
