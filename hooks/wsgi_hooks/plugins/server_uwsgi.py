"""uWSGI runs the app: deploy/uwsgi.ini in strict mode (a misspelt option stops it), two threads per worker, each
worker reloaded gracefully on deploy; pip builds it from source, so the server needs a C compiler and the Python
headers.
"""
