"""nginx in front: deploy/nginx.conf serves the static files and the maintenance page, sets the security headers and
passes the rest to the server, under the URL prefix.
"""
