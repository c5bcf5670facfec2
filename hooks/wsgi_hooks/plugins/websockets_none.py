"""No websockets: HTTP only, served by the WSGI server."""
