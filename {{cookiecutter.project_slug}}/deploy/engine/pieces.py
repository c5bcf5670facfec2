"""What one option value's module gives the others: typed pieces, consumed by whoever needs them (plan.py wires
them)."""

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class Packages:
    """Distribution packages a module needs, by family."""

    debian: tuple[str, ...] = ()
    rhel: tuple[str, ...] = ()

    def of(self, family: str) -> tuple[str, ...]:
        return self.debian if family == "debian" else self.rhel


@dataclass(frozen=True)
class Program:
    """A long-running process of the app the supervisor runs, from deploy/NAME.service or a [program:NAME] section.

    web: the server, reloaded gracefully; worker: restarted after each switch (it runs the live release's code);
    backing: a service the app needs (its own broker), started before it and left running across deploys.
    """

    name: str
    role: Literal["web", "worker", "backing"]
