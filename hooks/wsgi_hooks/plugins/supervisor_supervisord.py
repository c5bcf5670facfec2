"""supervisord runs the server: one installer sets up the program, the proxy and the database on the server, as
root or (deploy/install.sh --user) for an ordinary account with its own supervisord."""


def next_steps(answers):
    yield "# on the server, from a copy of this project: sudo deploy/install.sh (README.md, section Deploy)"
    yield "#   without root: deploy/install.sh --user (your own supervisord; it prints what the administrator runs)"
    yield f"# then: supervisorctl status {answers['project_slug']}"
