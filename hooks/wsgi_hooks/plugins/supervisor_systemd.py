"""systemd runs the server: one installer sets up the service, the proxy and the database on the server."""


def next_steps(answers):
    yield "# on the server, from a copy of this project: sudo deploy/install.sh (README.md, section Deploy)"
    yield "#   without root: deploy/install.sh --user (your own systemd manager; it prints what the administrator runs)"
    yield f"# then: systemctl status {answers['project_slug']}; journalctl -u {answers['project_slug']}"
