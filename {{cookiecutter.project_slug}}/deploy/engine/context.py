"""The deploy's runtime: one host, the install mode, and operations run in order.

Each step of the plan (plan.py) reads the host now (facts, `query`) and queues pyinfra operations (`op`, `run`); they
run when the step ends, in the order queued, and the next step reads the host as they left it. A failed operation
stops the deploy with a DeployError naming the step and the operation. In a dry run nothing is run: each operation
that would change something is printed instead.
"""

from __future__ import annotations

import logging
import shlex
import sys
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, field
from typing import IO, Any

from pyinfra.api.config import Config
from pyinfra.api.connect import connect_all
from pyinfra.api.exceptions import PyinfraError
from pyinfra.api.host import Host
from pyinfra.api.inventory import Inventory
from pyinfra.api.operation import OperationMeta, add_op
from pyinfra.api.operations import run_ops
from pyinfra.api.state import BaseStateCallback, State
from pyinfra.operations import files, server

from . import layout

PREFIX = "install.sh: "


class DeployError(Exception):
    """Stops the deploy; the live release keeps serving."""


@dataclass(frozen=True)
class Options:
    """install.sh's command line (options.py)."""

    user: bool = False
    join: bool = False
    dry: bool = False
    rollback: bool = False
    rollback_to: str | None = None
    rotate_secret_key: bool = False
    keep: int = 5
    python: str | None = None
    packages: bool = True
    os_family: str | None = None
    crontab: bool = True
    connection: str | tuple[str, dict[str, Any]] = "@local"  # a pyinfra host: its name, or (name, data)


def say(text: str) -> None:
    print(PREFIX + text, flush=True)


class _Narrator(BaseStateCallback):
    """Prints what each operation does as it starts (a command: itself), and remembers which one failed."""

    def __init__(self) -> None:
        self.texts: dict[int, tuple[str, str | None]] = {}
        self.failed: str | None = None

    def _text(self, state: State, host: Host, op_hash: str) -> tuple[OperationMeta, str, str | None]:
        meta = state.get_op_data_for_host(host, op_hash).operation_meta
        text, unchanged = self.texts.get(id(meta), ("an operation", None))
        return meta, text, unchanged

    # pyinfra declares its callbacks static but calls them on the handler: these read the handler's texts.
    def operation_host_start(self, state: State, host: Host, op_hash: Any) -> Any:  # type: ignore[override]
        # Whether an operation changes anything is known once it is queued (pyinfra reads the facts then).
        meta, text, unchanged = self._text(state, host, op_hash)
        if not text:
            return
        if text.startswith("+ "):
            print(text, flush=True)
        elif meta.will_change:
            say(text)
        elif unchanged:
            say(unchanged)

    def operation_host_error(  # type: ignore[override]
        self, state: State, host: Host, op_hash: Any, retry_count: int = 0, max_retries: int = 0
    ) -> Any:
        self.failed = self._text(state, host, op_hash)[1]


@dataclass
class Deploy:
    """One host being deployed, in one install mode."""

    options: Options
    family: str = "debian"
    step: str = "start"
    # What earlier steps found or decided, for later ones.
    account: str = ""  # the account the app runs as with --user (the one running this)
    python: str = ""  # the Python the app's virtualenv is made from (base.choose_python)
    release: str = ""  # this run's release, a name in RELEASES_DIR (releases.py)
    previous: str = ""  # the live release before the switch, if any
    venv_changed: bool = False  # the switch changes the virtualenv: the server restarts instead of reloading
    proxy_pending: str = ""  # why clients cannot reach the app through the proxy yet (a site not including it)
    _state: State | None = None
    _host: Host | None = None
    _narrator: _Narrator = field(default_factory=_Narrator)
    _queue: list[tuple[OperationMeta, str]] = field(default_factory=list)

    # ------------------------------------------------------------ the mode
    @property
    def user(self) -> bool:
        """--user: no root; what needs it is printed for an administrator."""
        return self.options.user

    @property
    def root(self) -> bool:
        return not self.options.user

    @property
    def dry(self) -> bool:
        return self.options.dry

    @property
    def joining(self) -> bool:
        return self.options.join

    @property
    def release_dir(self) -> str:
        return f"{layout.RELEASES_DIR}/{self.release}"

    def by_family(self, debian: str, rhel: str) -> str:
        return debian if self.family == "debian" else rhel

    # ------------------------------------------------------------ output
    def say(self, text: str) -> None:
        say(text)

    def administrator(self, *commands: str) -> None:
        """Commands an administrator runs as root, word for word (printed, never run here)."""
        for command in commands:
            print(f"{PREFIX}as root: {command}", flush=True)

    def fail(self, message: str) -> DeployError:
        """The error that stops the deploy here (raise it); it names the step."""
        return DeployError(f"{self.step}: {message}")

    # ------------------------------------------------------------ reading the host, now
    @property
    def host(self) -> Host:
        """The host, connected in a new pyinfra state for each batch of operations (facts are read afresh)."""
        if self._host is None:
            inventory = Inventory(([self.options.connection], {}))
            name = self.options.connection if isinstance(self.options.connection, str) else self.options.connection[0]
            self._state = State(inventory, Config())
            self._narrator = _Narrator()
            self._state.add_callback_handler(self._narrator)
            connect_all(self._state)
            self._host = inventory.get_host(name)
        return self._host

    def fact(self, fact: Any, **arguments: Any) -> Any:
        return self.host.get_fact(fact, **arguments)

    def query(self, command: str) -> str | None:
        """A command that changes nothing: its standard output, or None when it fails."""
        ok, output = self.host.run_shell_command(command)
        return str(output.stdout) if ok else None

    def succeeds(self, command: str) -> bool:
        return self.query(command) is not None

    def exists(self, path: str, test: str = "-e") -> bool:
        return self.succeeds(f"test {test} {shlex.quote(path)}")

    def read(self, path: str) -> str | None:
        return self.query(f"cat {shlex.quote(path)} 2>/dev/null")

    # ------------------------------------------------------------ changing it: queued, run in order
    def op(
        self, text: str, operation: Callable[..., Any], *args: Any, unchanged: str | None = None, **arguments: Any
    ) -> OperationMeta:
        """Queue a pyinfra operation; TEXT says what it did (UNCHANGED, if given, when it had nothing to do)."""
        host = self.host
        assert self._state is not None  # connected with the host
        meta: OperationMeta = add_op(self._state, operation, *args, name=text, **arguments)[host]
        self._narrator.texts[id(meta)] = (text, unchanged)
        self._queue.append((meta, text))
        return meta

    def install(self, source: str | IO[str], target: str) -> OperationMeta:
        """Queue SOURCE (a file here, or text) put at TARGET on the host, mode 0644: said as installed or unchanged."""
        return self.op(
            f"installed {target}", files.put, src=source, dest=target, mode="644", unchanged=f"unchanged {target}"
        )

    def changed(self, metas: list[OperationMeta]) -> bool:
        """Run what is queued; whether any of METAS changed the host (a dry run: would change it)."""
        self.flush()
        return any(meta.will_change if self.dry else meta.did_change() for meta in metas)

    def run(self, command: str | list[str], *, as_user: str | None = None, quiet: bool = False) -> OperationMeta:
        """Queue a command (a list: its words, quoted here); AS_USER: run by that account; QUIET: not printed (the
        deploy's own bookkeeping)."""
        if isinstance(command, list):
            command = shlex.join(command)
        if as_user:
            command = f"runuser -u {shlex.quote(as_user)} -- {command}"
        return self.op("" if quiet else f"+ {command}", server.shell, commands=[command])

    def flush(self) -> None:
        """Run what is queued, in order; a dry run prints what would change instead."""
        queue, state = self._queue, self._state
        self._queue, self._state, self._host = [], None, None
        if not queue or state is None:
            return
        if self.dry:
            for meta, text in queue:
                if meta.will_change and text:
                    print(f"would run: {text[2:]}" if text.startswith("+ ") else f"{PREFIX}would: {text}", flush=True)
            return
        with suppress(PyinfraError):
            run_ops(state)
        if state.failed_hosts:
            raise self.fail(f"{self._narrator.failed or 'an operation'} failed (its output is above)")

    def run_step(self, name: str, step: Callable[[Deploy], None]) -> None:
        """STEP's reads and operations; its operations run when it returns."""
        self.step = name
        try:
            step(self)
        except PyinfraError as error:  # a fact the step read failed on the host
            self._queue, self._state, self._host = [], None, None
            raise self.fail(f"pyinfra: {error}") from error
        except BaseException:
            self._queue, self._state, self._host = [], None, None
            raise
        self.flush()


def quiet_pyinfra() -> None:
    """pyinfra's own log: errors only (a failed command's output), on stderr, prefixed."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(PREFIX + "%(message)s"))
    logger = logging.getLogger("pyinfra")
    logger.handlers[:] = [handler]
    logger.setLevel(logging.ERROR)
    logger.propagate = False
