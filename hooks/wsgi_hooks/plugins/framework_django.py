"""Django: apply migrations, collect static files, then run the development server."""


def next_steps(answers):
    if answers["database"] == "postgresql":
        yield ".venv/bin/python manage.py create-database   # the role and databases, through sudo -u postgres psql"
    if answers["database"] != "none":
        yield ".venv/bin/python manage.py migrate"
    yield ".venv/bin/python manage.py collectstatic --no-input"
    yield f".venv/bin/python manage.py runserver 127.0.0.1:{answers['port']}"
    yield f"# then open http://127.0.0.1:{answers['port']}{answers['__url_prefix']}/"
