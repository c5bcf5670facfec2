"""Celery workers and beat beside the web app, on Redis by default (RabbitMQ through CELERY_BROKER_URL)."""


def next_steps(answers):
    slug = answers["project_slug"]
    yield "# background tasks: python manage.py start-workers (a Celery worker and beat, on the broker of .env)"
    if answers["supervisor"] == "systemd":
        yield f"#   on the server, install.sh adds {slug}-worker.service and {slug}-beat.service (and Redis when local)"
    elif answers["supervisor"] == "supervisord":
        yield f"#   on the server, install.sh adds the programs {slug}-worker and {slug}-beat (and Redis when local)"
    else:
        yield (
            f"#   supervisor=none: run `celery -A {answers['package_name']}.worker worker` under your own process"
            " manager, and `... beat` once per deployment"
        )
