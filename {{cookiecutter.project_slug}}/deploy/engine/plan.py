"""The deploy, in order: one list of phases, each a list of steps, for this project's answers. Every step is a function
of one option value's module (named after it); what one module gives another passes here, as typed pieces."""

from __future__ import annotations

from collections.abc import Callable

{# ruff: off #}
{# The imports as ruff sorts them: the modules imported by their own names on one line, then those under another. #}
{% set plain = ['base', 'layout', 'releases'] %}
{% set named = [('framework_' ~ cookiecutter.__family, 'framework'), ('supervisor_' ~ cookiecutter.supervisor, 'supervisor')] %}
{# The server's module where it is used: a supervisor reloads and probes it; uWSGI's build needs are checked. #}
{% if cookiecutter.supervisor != 'none' or cookiecutter.server == 'uwsgi' %}
{% set named = named + [('server_' ~ cookiecutter.server, 'server')] %}
{% endif %}
{% if cookiecutter.proxy != 'none' %}
{% set plain = plain + ['firewall', 'proxy'] %}
{% set named = named + [('proxy_' ~ cookiecutter.proxy, 'proxy_site')] %}
{% endif %}
{% if cookiecutter.proxy in ['nginx', 'apache'] or cookiecutter.task_queue == 'celery' %}
{% set plain = plain + ['selinux'] %}
{% endif %}
{% if cookiecutter.database in ['sqlite', 'postgresql'] %}
{% set plain = plain + ['backups'] %}
{% endif %}
{% if cookiecutter.database == 'postgresql' %}
{% set plain = plain + ['database_postgresql'] %}
{% endif %}
{% if cookiecutter.task_queue == 'celery' %}
{% set named = named + [('task_queue_celery', 'celery')] %}
{% endif %}
{% if cookiecutter.websockets == 'channels' %}
{% set named = named + [('websockets_channels', 'channels')] %}
{% endif %}
{% if cookiecutter.tls != 'none' %}
{% set named = named + [('tls_' ~ cookiecutter.tls, 'tls')] %}
{% endif %}
from . import {{ plain | sort | join(', ') }}
{% for module, name in named | sort %}
from . import {{ module }} as {{ name }}
{% endfor %}
{# ruff: on #}
from .context import Deploy
from .pieces import Packages, Program

Step = Callable[[Deploy], None]


def programs(d: Deploy) -> list[Program]:
    """What the supervisor runs: the backing services first, the server, the workers."""
    found = [Program(layout.APP_NAME, "web")]
{% if cookiecutter.task_queue == 'celery' %}
    found += celery.programs(d)
{% endif %}
{% if cookiecutter.websockets == 'channels' and cookiecutter.supervisor != 'none' %}
    found += channels.programs()
{% endif %}
    return sorted(found, key=lambda program: program.role != "backing")


def packages(d: Deploy) -> list[Packages]:
    return [
        base.PACKAGES,
{% if cookiecutter.server == 'uwsgi' %}
        server.PACKAGES,
{% endif %}
{% if cookiecutter.supervisor == 'supervisord' %}
        supervisor.PACKAGES,
{% endif %}
{% if cookiecutter.database in ['sqlite', 'postgresql'] and cookiecutter.supervisor != 'systemd' %}
        backups.PACKAGES,
{% endif %}
{% if cookiecutter.database == 'postgresql' %}
        database_postgresql.PACKAGES,
{% endif %}
{% if cookiecutter.proxy != 'none' %}
        proxy_site.PACKAGES,
{% endif %}
{% if cookiecutter.proxy in ['nginx', 'apache'] or cookiecutter.task_queue == 'celery' %}
        selinux.PACKAGES,
{% endif %}
{% if cookiecutter.tls != 'none' %}
        tls.PACKAGES,
{% endif %}
{% if cookiecutter.task_queue == 'celery' %}
        celery.packages(d),
{% endif %}
    ]


def data_dirs() -> list[str]:
    """STATE_DIR's directories other modules need, made in every mode (the account's, setgid)."""
{% if cookiecutter.proxy != 'none' %}
    return list(proxy.DATA_DIRS)
{% else %}
    return []
{% endif %}


def root_dirs() -> list[tuple[str, str, str]]:
    """Directories made as root only: (path, mode, owner)."""
    found: list[tuple[str, str, str]] = []
{% if cookiecutter.supervisor == 'supervisord' %}
    found += supervisor.LOG_DIRS
{% endif %}
{% if cookiecutter.tls == 'certbot' %}
    found += tls.ROOT_DIRS
{% endif %}
    return found


def reload(d: Deploy) -> None:
    """Load the live release's code: after a switch back (health gate) or to another release (--rollback)."""
{% if cookiecutter.supervisor == 'none' %}
    d.say("no supervisor: reload the server yourself so that it loads the live release")
{% else %}
    supervisor.reload(d, [p.name + "{{ '.service' if cookiecutter.supervisor == 'systemd' else '' }}" for p in programs(d) if p.role == "worker"])
{% endif %}


def health_gate(d: Deploy) -> None:
{% if cookiecutter.supervisor == 'none' %}
    # The server is not the deploy's to reload: its answer would be the old code's, or none.
    d.say(
        f"no supervisor: reload the server yourself so that it loads {layout.CODE_DIR} (release {d.release}), "
        f"then check {layout.HEALTH_URL}"
    )
    d.run(f"touch {layout.RELEASES_DIR}/{d.release}/{releases.HEALTHY}")
{% else %}
    releases.health_gate(d, d.release, reload, server.probe)
{% endif %}


# Steps that pass one module's pieces to another.
def install_packages(d: Deploy) -> None:
    base.install_packages(d, packages(d))


def make_directories(d: Deploy) -> None:
    base.ensure_directories(d, data_dirs(), root_dirs())
{% if cookiecutter.supervisor != 'none' %}


def start_programs(d: Deploy) -> None:
    supervisor.start(d, programs(d))


def app_answers(d: Deploy) -> None:
    releases.app_answers(d, reload, server.probe)
{% else %}


def start_programs(d: Deploy) -> None:
    supervisor.start(d)
{% endif %}
{% if cookiecutter.proxy != 'none' %}


def let_proxy_in(d: Deploy) -> None:
    proxy.let_proxy_in(d, proxy_site.proxy_user(d))
{% endif %}
{% if cookiecutter.tls != 'none' %}


def certificate(d: Deploy) -> None:
    """Joining, the certificate is the joined site's."""
    if not d.joining:
        tls.certificate(d)
{% endif %}


def phases(d: Deploy) -> list[tuple[str, list[Step]]]:
    """The phases of a deploy, in the order they run. Nothing before "live" touches the live release."""
    return [
{% if cookiecutter.supervisor == 'supervisord' %}
        ("check", [supervisor.check]),
{% endif %}
        ("packages", [install_packages] if d.root and d.options.packages else []),
        # What the install needs and no package step provides: checked before anything is installed.
        (
            "preflight",
            [
                base.choose_python,
{% if cookiecutter.server == 'uwsgi' %}
                server.build_needs,
{% endif %}
{% if cookiecutter.supervisor == 'systemd' %}
                supervisor.ensure_user_manager,
{% endif %}
{% if cookiecutter.tls == 'certificate' %}
                certificate,  # joining, the certificate is the joined site's
{% endif %}
            ],
        ),
        ("account", [base.ensure_account, make_directories]),
        # A new release beside the live one, prepared (migrations and static files included), then switched to.
        ("release", [releases.copy_code, base.ensure_env_file, releases.ensure_virtualenv]),
{% if cookiecutter.database == 'postgresql' or cookiecutter.task_queue == 'celery' %}
        (
            "database",
            [
{% if cookiecutter.database == 'postgresql' %}
                database_postgresql.ensure_database,
{% endif %}
{% if cookiecutter.task_queue == 'celery' %}
                celery.broker,
{% endif %}
            ],
        ),
{% endif %}
        (
            "prepare",
            [
{% if cookiecutter.database in ['sqlite', 'postgresql'] %}
                backups.before_migrating,  # before the migrations below
{% endif %}
                framework.prepare,
{% if cookiecutter.proxy in ['nginx', 'apache'] or cookiecutter.task_queue == 'celery' %}
                # After the static files are collected: the modules label them too; before the app starts.
                selinux.configure,
{% endif %}
            ],
        ),
        ("live", [releases.go_live]),
        (
            "start",
            [
                start_programs,
{% if cookiecutter.supervisor != 'none' %}
                app_answers,
{% endif %}
{% if cookiecutter.database in ['sqlite', 'postgresql'] and cookiecutter.supervisor == 'systemd' %}
                supervisor.backup_timer,
{% elif cookiecutter.database in ['sqlite', 'postgresql'] %}
                backups.schedule,
{% endif %}
            ],
        ),
{% if cookiecutter.proxy != 'none' %}
        # The proxy after the app answers on its own: then the site that sends clients to it.
        (
            "proxy",
            [
                let_proxy_in,
                firewall.open_ports,
{% if cookiecutter.tls == 'certbot' %}
                certificate,
{% endif %}
                proxy_site.site,
            ],
        ),
{% endif %}
        ("health", [health_gate]),
        ("prune", [releases.prune]),
        (
            "summary",
            [
                base.summary,
{% if cookiecutter.supervisor != 'none' %}
                supervisor.summary,
{% endif %}
{% if cookiecutter.database in ['sqlite', 'postgresql'] %}
                backups.summary,
{% endif %}
{% if cookiecutter.task_queue == 'celery' %}
                celery.summary,
{% endif %}
{% if cookiecutter.websockets == 'channels' %}
                channels.summary,
{% endif %}
            ],
        ),
    ]


def rollback(d: Deploy) -> None:
{% if cookiecutter.supervisor == 'none' %}
    raise d.fail(
        "--rollback: no supervisor chosen, so the server is not the deploy's to reload: switch the link "
        f"{layout.CODE_DIR} yourself"
    )
{% else %}
    releases.roll_back(d, reload, server.probe)
{% endif %}


def rotate(d: Deploy) -> None:
    """--rotate-secret-key: a new key, then everything that holds the old one loads the new: the server gracefully,
    the other programs restarted."""
    base.rotate_secret_key(d)
{% if cookiecutter.supervisor == 'none' %}
    d.say("no supervisor: reload the server (and restart anything else running the app) yourself to use the new key")
{% else %}
    d.release = releases.live_release(d)
    reload(d)
    releases.app_answers(d, reload, server.probe)
{% endif %}
