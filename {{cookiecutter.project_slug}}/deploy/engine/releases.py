"""Releases. Each install copies the code into a release of its own, RELEASES_DIR/<id>, prepares it (virtualenv,
migrations, static files) while the live one serves, then switches CODE_DIR, the link every file in deploy/ names, to
it, reloads gracefully and checks /healthz the way clients come in; if that fails it switches back. Only a release that
went live and passed that check counts as one to roll back to (its .healthy mark). A virtualenv is shared by the
releases whose dependencies and Python are the same (VENVS_DIR/<hash>): a redeploy without new dependencies makes none.
"""

from __future__ import annotations

import hashlib
import shlex
import time
import tomllib
from collections.abc import Callable
from datetime import UTC, datetime
from io import StringIO

from pyinfra.operations import files

from . import layout
from .base import SOURCE_DIR
from .context import Deploy

HEALTHY = ".healthy"  # the mark of a release that went live and answered


def release_names(d: Deploy, healthy_only: bool = False) -> list[str]:
    """The releases on disk, oldest first (their names are UTC times)."""
    test = f"-f {layout.RELEASES_DIR}/$r/{HEALTHY}" if healthy_only else f"-d {layout.RELEASES_DIR}/$r"
    listing = d.query(f'cd {layout.RELEASES_DIR} 2>/dev/null && for r in *; do ! test {test} || echo "$r"; done') or ""
    return sorted(name for name in listing.split() if name != "*")


def live_release(d: Deploy) -> str:
    target = (d.query(f"readlink {layout.CODE_DIR}") or "").strip()
    name = target.rsplit("/", 1)[-1]
    return name if name and d.exists(f"{layout.RELEASES_DIR}/{name}", "-d") else ""


def copy_code(d: Deploy) -> None:
    """The checkout's code into a new release; the live one is not touched. The files keep their modes for their
    owner and group (the app's group reads what the owner reads), and other accounts get nothing."""
    d.previous = live_release(d)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    existing = set(release_names(d))
    d.release = next(name for n in range(1, 100) if (name := stamp if n == 1 else f"{stamp}-{n}") not in existing)
    release = shlex.quote(d.release_dir)
    excludes = " ".join(f"--exclude=./{name}" for name in ("__pycache__", *layout.KEPT_ON_SERVER))
    # umask 027: what mkdir and tar make is the owner's and the group's only. The directories are never chmod'ed:
    # made in the setgid directories of a --user install they keep its group, which a chmod by an account outside
    # that group would drop, and with it the proxy's access.
    d.run(
        f"umask 027 && mkdir -p {layout.RELEASES_DIR} {release} && "
        f"tar -C {shlex.quote(SOURCE_DIR)} --exclude=__pycache__ {excludes} -cf - . | "
        f"tar -C {release} --no-same-owner -xf - && "
        f"find {release} -type f -exec chmod g=u,g-w,o= " + "{} + && "
        f"ln -s ../../.env {release}/.env"
    )
    if d.root:
        # The app's account reads the release through its group.
        d.run(f"chgrp -R {layout.SERVICE_GROUP} {layout.RELEASES_DIR} && chmod 0750 {layout.RELEASES_DIR} {release}")
    d.say(f"release {d.release}: from {SOURCE_DIR}" + (f" (live: {d.previous})" if d.previous else ""))


def dependencies() -> list[str]:
    with open(f"{SOURCE_DIR}/pyproject.toml", "rb") as file:
        return list(tomllib.load(file)["project"]["dependencies"])


def ensure_virtualenv(d: Deploy) -> None:
    """The release's virtualenv: the one made for the same dependencies and Python, or a new one. The project is not
    installed in it: the servers and manage.py import it from the release, so one virtualenv serves every release with
    those dependencies."""
    requirements = "\n".join(dependencies()) + "\n"
    version = (d.query(f"{shlex.quote(d.python)} -V") or "").strip()
    key = hashlib.sha256(f"{d.python}\n{version}\n{requirements}".encode()).hexdigest()[:16]
    venv = f"{layout.VENVS_DIR}/{key}"
    if d.exists(f"{venv}/.complete"):
        d.say(f"virtualenv {venv}: the same dependencies, reused")
    else:
        d.op(f"directory {layout.VENVS_DIR}", files.directory, path=layout.VENVS_DIR, mode="755")
        d.op("requirements", files.put, src=StringIO(requirements), dest=f"{venv}.requirements", mode="644")
        d.run(f"rm -rf {venv} && {shlex.quote(d.python)} -m venv {venv}")
        d.run(f"{venv}/bin/python -m pip install --quiet --upgrade pip")
        d.run(f"{venv}/bin/python -m pip install --quiet --requirement {venv}.requirements")
        d.run(f"rm -f {venv}.requirements && touch {venv}/.complete")
    d.run(f"ln -s ../../venvs/{key} {shlex.quote(d.release_dir)}/.venv")
    live_venv = (d.query(f"readlink -f {layout.CODE_DIR}/.venv") or "").strip()
    d.venv_changed = bool(live_venv) and live_venv != venv


def switch(d: Deploy, release: str) -> None:
    """CODE_DIR to RELEASE: a new link renamed over the old one, atomically."""
    link = layout.CODE_DIR
    d.run(f"ln -sfn releases/{release} {link}.new && mv -T {link}.new {link}")
    d.flush()
    d.say(f"live release: {release} ({layout.CODE_DIR})")


def go_live(d: Deploy) -> None:
    switch(d, d.release)


def answers(d: Deploy) -> bool:
    """GET /healthz the way clients come in, on this machine; a few tries over 5 s."""
    curl = (
        "curl --silent --show-error --fail --insecure --max-time 10 --output /dev/null "
        f"--resolve {layout.DOMAIN}:{layout.HEALTH_PORT}:127.0.0.1 {shlex.quote(layout.HEALTH_URL)}"
    )
    for _ in range(5):
        if d.succeeds(curl):
            return True
        time.sleep(1)
    return False


def back_to_previous(d: Deploy, release: str, reload: Callable[[Deploy], None], problem: str) -> None:
    """RELEASE is live but PROBLEM: back to the previous release, reloaded, and a DeployError that says so."""
    if not d.previous:
        d.say(f"warning: {problem} (release {release}, the first: none to return to)")
        return
    d.say(f"error: {problem} with release {release}: switching back to {d.previous}")
    switch(d, d.previous)
    reload(d)
    d.flush()
    back = "which answers" if answers(d) else "which does not answer either: see the logs"
    raise d.fail(
        f"release {release} failed its health check ({problem}): rolled back to {d.previous}, {back} "
        f"(release {release} is kept in {layout.RELEASES_DIR} for inspection; its logs: the server's)"
    )


def app_answers(d: Deploy, reload: Callable[[Deploy], None], probe: Callable[[Deploy], bool]) -> None:
    """Once started or reloaded, the app answers /healthz on its own socket (30 s at most) before any proxy is
    pointed at it; if it does not, back to the previous release."""
    if d.dry:
        d.say(f"would check /healthz on the app's own socket (release {d.release})")
        return
    for _ in range(60):
        if probe(d):
            d.say(f"the app answers on its own socket (release {d.release})")
            return
        time.sleep(0.5)
    back_to_previous(d, d.release, reload, "the app does not answer /healthz on its own socket")


def health_gate(d: Deploy, release: str, reload: Callable[[Deploy], None], probe: Callable[[Deploy], bool]) -> None:
    """After the switch to RELEASE and the reload, /healthz the way clients come in: healthy (the release is marked
    so), or back to the previous release. Where clients cannot come in through the proxy yet (a joined site without
    the app's lines, --user before the administrator's steps), the app's own socket answered (PROBE), and the
    proxy's check waits for whoever sets the proxy up."""
    if d.dry:
        d.say(f"would check {layout.HEALTH_URL}")
        return
    if not d.proxy_pending and not answers(d):
        if not (d.user and probe(d)):
            back_to_previous(d, release, reload, f"{layout.HEALTH_URL} does not answer")
            return
        d.proxy_pending = "the proxy does not pass requests to the app yet (the administrator's steps above)"
    d.run(f"touch {layout.RELEASES_DIR}/{release}/{HEALTHY}")
    d.flush()
    if d.proxy_pending:
        d.say(
            f"healthy: the app answers on its own socket (release {release}); not checked: {layout.HEALTH_URL}: "
            f"{d.proxy_pending}; run this script again once it does"
        )
    else:
        d.say(f"healthy: {layout.HEALTH_URL} answers (release {release})")


def prune(d: Deploy) -> None:
    """Only the KEEP newest healthy releases stay (and the live one), and the virtualenvs they use; releases that
    never passed the health check go, unless newer than the live one (kept for inspection until the next success)."""
    live = live_release(d)
    if not live:
        return
    healthy = release_names(d, healthy_only=True)
    keep = set(healthy[-d.options.keep :]) | {live}
    for name in release_names(d):
        if name not in keep and (name in healthy or name < live):
            d.run(f"rm -rf -- {layout.RELEASES_DIR}/{name}")
    d.flush()
    used = d.query(f'for r in {layout.RELEASES_DIR}/*/.venv; do readlink -f "$r"; done') or ""
    for venv in (d.query(f"find {layout.VENVS_DIR} -mindepth 1 -maxdepth 1 -type d") or "").split():
        if venv not in used.split():
            d.run(f"rm -rf -- {venv}")


def roll_back(d: Deploy, reload: Callable[[Deploy], None], probe: Callable[[Deploy], bool]) -> None:
    """--rollback [RELEASE]: back to the newest healthy release before the live one (or RELEASE), gracefully."""
    live = live_release(d)
    if not live:
        raise d.fail(
            f"--rollback: {layout.CODE_DIR} is not a link to a release in {layout.RELEASES_DIR}: nothing to roll back"
        )
    healthy = release_names(d, healthy_only=True)
    if d.options.rollback_to:
        target = d.options.rollback_to
        if target not in healthy:
            raise d.fail(
                f"--rollback: no release '{target}' that went live and answered in {layout.RELEASES_DIR};"
                f" there are: {' '.join(healthy)}"
            )
    else:
        older = [name for name in healthy if name < live]
        if not older:
            raise d.fail(f"--rollback: no release older than the live one ({live}) that went live and answered")
        target = older[-1]
    if target == live:
        raise d.fail(f"--rollback: {target} is the live release already")
    d.previous = live
    venvs = [(d.query(f"readlink -f {layout.RELEASES_DIR}/{name}/.venv") or "").strip() for name in (target, live)]
    d.venv_changed = venvs[0] != venvs[1]
    d.release = target
    switch(d, target)
    reload(d)
    d.flush()
    health_gate(d, target, reload, probe)
    d.say(f"rolled back from {live} to {target}")
