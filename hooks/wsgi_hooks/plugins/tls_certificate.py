"""HTTPS with a certificate you provide: the proxy site reads it from a fixed place on the server."""


def next_steps(answers):
    directory = f"/etc/ssl/{answers['project_slug']}"
    yield f"# before deploy/install.sh: put the certificate chain in {directory}/fullchain.pem, its key in privkey.pem"
