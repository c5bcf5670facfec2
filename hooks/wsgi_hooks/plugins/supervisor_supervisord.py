"""supervisord runs the server: one installer sets up the program, the proxy and the database on the server."""


def next_steps(answers):
    yield "# on the server, from a copy of this project: sudo deploy/install.sh (README.md, section Deploy)"
    yield f"# then: supervisorctl status {answers['project_slug']}"
