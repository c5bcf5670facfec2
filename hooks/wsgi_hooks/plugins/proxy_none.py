"""No reverse proxy: the WSGI server faces clients itself, so it must listen on TCP and cannot terminate TLS."""


def validate(answers):
    if answers["bind"] == "unix":
        yield "bind: 'unix' needs a proxy to connect clients to the socket; choose bind=tcp when proxy=none"
    if answers["tls"] != "none":
        yield "tls: HTTPS is terminated by the proxy; choose tls=none when proxy=none"
    if answers["cors_origins"].strip():
        yield (
            "cors_origins: the proxy sends the CORS headers and answers preflight requests; leave it empty when "
            "proxy=none"
        )
