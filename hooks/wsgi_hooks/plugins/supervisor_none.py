"""No supervisor: the installer sets up everything else, and the server is started by hand (or by your own tool)."""


def next_steps(answers):
    yield "# on the server, from a copy of this project: sudo deploy/install.sh (README.md, section Deploy)"
    yield "# it prints the command that starts the server: nothing restarts it if it stops"
