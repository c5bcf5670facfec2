"""gunicorn runs the app: deploy/gunicorn.conf.py, pre-forked sync workers (two per core plus one), graceful reloads
with HUP that start new workers before the old ones stop.
"""
