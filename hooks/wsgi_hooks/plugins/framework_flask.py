"""Flask: create the database tables with Flask-Migrate, then run the development server."""


def next_steps(answers):
    if answers["database"] == "postgresql":
        yield ".venv/bin/python manage.py create-database   # the role and databases, through sudo -u postgres psql"
    if answers["database"] != "none":
        yield ".venv/bin/python manage.py db upgrade"
    yield f".venv/bin/python manage.py run --reload --port {answers['port']}"
    yield f"# then open http://127.0.0.1:{answers['port']}{answers['__url_prefix']}/"
