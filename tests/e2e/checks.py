"""What a stack has, and how the end-to-end checks are registered by it.

A `Spec` is what a stack has: its answers (framework, server, proxy, supervisor, database, and the options some stacks
add: Celery, Channels, CORS) and how it is installed (as root, or `install.sh --user`; with its own site, or
`--join`ing the administrator's). Its `id` names all of that, so `pytest -m e2e -k celery` selects the stacks that have
Celery (tests/e2e/test_stacks.py).

Each scenario module lists its own checks (`Check`: the phase it belongs to, its name, the condition on the Spec, the
function, called with the booted Stack) and its setup steps (`Step`); tests/e2e/sequence.py puts them, with the checks
every stack shares, into the one ordered list that run_stack follows. This module imports nothing of tests/e2e: the
others import it, so there is no import circle.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

STACK_KEYS = ("framework", "server", "proxy", "supervisor", "database")

# How each stack is installed. supervisord stacks install with --user but SYSTEM_SUPERVISORD; systemd stacks as root
# but USER_SYSTEMD (units of the account's own systemd manager, tests/e2e/scenario_user.py). JOIN_STACKS join a site
# the administrator already runs for the host (install.sh --join, tests/e2e/scenario_join.py).
SYSTEM_SUPERVISORD = {"flask-gunicorn-nginx-supervisord-postgresql"}
USER_SYSTEMD = {"flask-uwsgi-nginx-systemd-sqlite", "django-uwsgi-nginx-systemd-sqlite"}
JOIN_STACKS = {
    "django-gunicorn-nginx-systemd-sqlite",  # as root, nginx
    "django-uwsgi-apache-systemd-sqlite",  # as root, Apache
    "flask-uwsgi-nginx-supervisord-sqlite",  # install.sh --user --join, nginx
}

# Where a setup step runs: before the install check (the server as its user has it); inside it, once the checkout is
# on the server and before install.sh runs; inside it, after install.sh succeeded (Stack.install_output holds what it
# printed). An AssertionError in the last two is the install check's failure.
STEP_POINTS = ("prepare", "checkout", "installed")

# The phases of every stack's checks, in order: what has happened to the stack when a check of the phase runs.
PHASES = (
    "after_install",  # installed, serving
    "before_redeploy",  # its first checks done, before it is stopped, restarted and redeployed
    "stop",  # stopped by its supervisor
    "stopped",  # while it is stopped
    "restart",  # started again, killed, socket-activated
    "redeploy",  # install.sh again with a code change (a second release), under load
    "after_redeploy",  # redeployed: releases, workers, backups, rotations
    "final",  # last: what the next checks could disturb (a reboot), then the final stop
)


def stack_name(answers: dict) -> str:
    """framework-server-proxy-supervisor-database: the name of the stack's report (build/reports/e2e/<name>.json)."""
    return "-".join(answers[key] for key in STACK_KEYS)


@dataclass(frozen=True)
class Spec:
    """What one stack has. Conditions read this, never a booted container."""

    answers: dict

    @property
    def name(self) -> str:
        return stack_name(self.answers)

    @property
    def framework(self) -> str:
        return self.answers["framework"]

    @property
    def server(self) -> str:
        return self.answers["server"]

    @property
    def proxy(self) -> str:
        return self.answers["proxy"]

    @property
    def supervisor(self) -> str:
        return self.answers["supervisor"]

    @property
    def database(self) -> str:
        return self.answers["database"]

    @property
    def celery(self) -> bool:
        return self.answers.get("task_queue") == "celery"

    @property
    def channels(self) -> bool:
        return self.answers.get("websockets") == "channels"

    @property
    def cors(self) -> bool:
        return bool(self.answers.get("cors_origins"))

    @property
    def user_mode(self) -> bool:
        """Installed by an ordinary account (install.sh --user) rather than as root."""
        if self.supervisor == "supervisord":
            return self.name not in SYSTEM_SUPERVISORD
        return self.name in USER_SYSTEMD

    @property
    def join(self) -> bool:
        return self.name in JOIN_STACKS

    @property
    def options(self) -> tuple[str, ...]:
        """What the stack has beyond its five main answers, one word each."""
        has = {
            "celery": self.celery,
            "channels": self.channels,
            "cors": self.cors,
            "user": self.user_mode,
            "join": self.join,
        }
        return tuple(option for option, present in has.items() if present)

    @property
    def id(self) -> str:
        """The test's id: the name, then each option (flask-uwsgi-nginx-supervisord-sqlite-user-join)."""
        return "-".join((self.name, *self.options))


def everywhere(spec: Spec) -> bool:
    return True


def named(*names: str) -> Callable[[Spec], bool]:
    """The condition: the stack is one of these (a scenario chosen for a few stacks, not an option of theirs)."""
    return lambda spec: spec.name in names


@dataclass(frozen=True)
class Check:
    """One check, recorded in the stack's report under `name`. `run(stack)` fails it by raising AssertionError."""

    phase: str
    name: str
    run: Callable[[Any], object]
    applies: Callable[[Spec], bool] = everywhere
    # The name of an earlier check that must have passed for this one to run (it uses what that one left).
    needs: str = ""
    # Why it cannot run here (a tool missing), or "": the stack then records the reason instead of running it.
    unavailable: Callable[[], str] | None = None

    def __post_init__(self) -> None:
        if self.phase not in PHASES:
            raise ValueError(f"{self.name}: unknown phase {self.phase!r}, not one of {PHASES}")


@dataclass(frozen=True)
class Step:
    """Setup, not a check: `run(stack)` at `point` (STEP_POINTS) on the stacks it applies to."""

    point: str
    name: str
    run: Callable[[Any], None]
    applies: Callable[[Spec], bool] = everywhere

    def __post_init__(self) -> None:
        if self.point not in STEP_POINTS:
            raise ValueError(f"{self.name}: unknown point {self.point!r}, not one of {STEP_POINTS}")


def in_phase(checks: list[Check], phase: str) -> list[Check]:
    """A module's checks of one phase, in the module's order."""
    if phase not in PHASES:
        raise ValueError(f"unknown phase {phase!r}")
    return [check for check in checks if check.phase == phase]
