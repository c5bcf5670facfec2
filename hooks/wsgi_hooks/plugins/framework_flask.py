"""Flask: create the database tables with Flask-Migrate, then run the development server."""


def next_steps(answers):
    if answers["database"] != "none":
        yield ".venv/bin/python manage.py db upgrade"
    yield f".venv/bin/python manage.py run --port {answers['port']}"
    yield f"# then open http://127.0.0.1:{answers['port']}{answers['__url_prefix']}/"
