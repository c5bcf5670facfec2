"""Django Channels under Daphne (an ASGI server beside the WSGI one, as CATMAID runs it): the proxy sends
<prefix>/ws/ to Daphne's unix socket with the upgrade headers, everything else stays on the WSGI server."""


def validate(answers):
    if answers["framework"] != "django":
        yield (
            f"websockets: 'channels' is Django Channels, for framework=django only; choose websockets=none with "
            f"framework={answers['framework']}"
        )
    if answers["proxy"] == "none":
        yield (
            "websockets: 'channels' needs a proxy to send <prefix>/ws/ to Daphne and the rest to the WSGI server; "
            "choose proxy=nginx or proxy=apache"
        )
    elif answers["bind"] == "tcp":
        yield "websockets: Daphne listens on a unix socket beside the WSGI server's; choose bind=unix with websockets"
    if answers["cors_origins"].strip() and any(path.startswith("/ws/") for path in answers["cors_paths"].split()):
        # A CORS location there would take those paths from Daphne (nginx: the longer prefix wins).
        yield (
            "cors_paths: <prefix>/ws/ is Daphne's, which checks a websocket's Origin itself; leave paths under /ws/ "
            "out of cors_paths with websockets=channels"
        )


def next_steps(answers):
    slug = answers["project_slug"]
    socket = f"{answers['__run_dir']}/daphne.sock"
    yield "# websockets: the echo consumer's test runs without a server: pytest tests/test_websockets.py"
    if answers["supervisor"] == "systemd":
        yield f"#   on the server, install.sh adds {slug}-daphne.service (Daphne on {socket})"
    elif answers["supervisor"] == "supervisord":
        yield f"#   on the server, install.sh adds the program {slug}-daphne (Daphne on {socket})"
    else:
        yield (
            "#   supervisor=none: run Daphne under your own process manager: the command is in README.md, Websockets"
        )
