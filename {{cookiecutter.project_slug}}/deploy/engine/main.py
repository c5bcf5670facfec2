"""deploy/install.sh's command line, and the deploy it runs: the phases of plan.py, in order, on this machine."""

from __future__ import annotations

import argparse
import dataclasses
import os
import pwd
import sys

from pyinfra.facts.server import LinuxDistribution

from . import layout, plan
from .context import Deploy, DeployError, Options, quiet_pyinfra, say


def parse(arguments: list[str]) -> Options:
    parser = argparse.ArgumentParser(
        prog="deploy/install.sh",
        description=f"Install or update {layout.APP_NAME} on this server (Debian/Ubuntu or RHEL family), as root; "
        "safe to run again after every code change: it changes only what differs, then reloads the app.",
    )
    parser.add_argument(
        "--user",
        action="store_true",
        help="install without root and run the app as the account "
        f"running this, in the same directories ({layout.APP_DIR}, {layout.STATE_DIR}, "
        f"{layout.RUN_DIR}, {layout.LOG_DIR}), which an administrator makes for it once; what needs "
        "root is printed for them",
    )
    parser.add_argument(
        "--join",
        action="store_true",
        help="add the app to the proxy site someone else runs for the "
        "domain: install only the app's lines and print the one line that site must include",
    )
    parser.add_argument(
        "--rollback",
        nargs="?",
        const="",
        metavar="RELEASE",
        help="switch back to the release "
        f"before the live one, or to RELEASE (a name in {layout.RELEASES_DIR}), and check it",
    )
    parser.add_argument(
        "--keep", type=int, default=5, metavar="N", help="keep the N newest releases that went live (default 5)"
    )
    parser.add_argument(
        "--python",
        metavar="PATH",
        help="the Python that makes the app's virtualenv (default: the first new enough one on PATH)",
    )
    parser.add_argument("--no-packages", action="store_true", help="do not install distribution packages")
    parser.add_argument("--os", choices=["debian", "rhel"], help="the distribution family (default: this machine's)")
    parser.add_argument(
        "--rotate-secret-key",
        action="store_true",
        help="a new SECRET_KEY in .env (the old one "
        "kept as a fallback, so sessions survive), then a graceful reload of the server and a restart "
        "of every other program that holds the key; no new release",
    )
    parser.add_argument("--dry", action="store_true", help="print every change the deploy would make; make none")
{% if cookiecutter.supervisor in ['supervisord', 'none'] %}
    parser.add_argument(
        "--no-crontab", action="store_true", help="with --user: leave your crontab alone and print its lines instead"
    )
{% endif %}
    args = parser.parse_args(arguments)
    if args.keep < 1:
        parser.error(f"--keep: the number of releases to keep, 1 or more, not {args.keep}")
    if args.join and not layout.URL_PREFIX:
        parser.error(
            "--join: the app must live under a URL prefix, not / (url_prefix): the root of a site someone "
            "else runs stays theirs"
        )
{% if cookiecutter.proxy == 'none' %}
    if args.join:
        parser.error("--join: this project has no proxy in front (proxy=none), so no proxy site to join")
{% endif %}
    return Options(
        user=args.user,
        join=args.join,
        dry=args.dry,
        rollback=args.rollback is not None,
        rollback_to=args.rollback or None,
        rotate_secret_key=args.rotate_secret_key,
        keep=args.keep,
        python=args.python,
        packages=not (args.no_packages or args.user),
        os_family=args.os,
        crontab=not getattr(args, "no_crontab", False),
    )


def detect_family(d: Deploy) -> str:
    if d.options.os_family:
        return d.options.os_family
    release = d.fact(LinuxDistribution) or {}
    names = {str(release.get("release_meta", {}).get(key, "")).lower() for key in ("ID",)}
    names |= set(str(release.get("release_meta", {}).get("ID_LIKE", "")).lower().split())
    if names & {"debian", "ubuntu"}:
        return "debian"
    if names & {"rhel", "fedora", "centos"}:
        return "rhel"
    raise DeployError(f"unsupported distribution {release.get('name')!r}: use --os debian or --os rhel")


def main(arguments: list[str], connection: str | tuple[str, dict[str, object]] = "@local") -> int:
    """Deploy on CONNECTION: this machine, or another pyinfra host (a test's @fake one with its facts)."""
    options = dataclasses.replace(parse(arguments), connection=connection)
    local = connection == "@local"
    if local and not options.user and not options.dry and os.geteuid() != 0:
        print(
            "install.sh: error: run as root (sudo deploy/install.sh), with --user to install for your own account, "
            "or with --dry to see what it would change",
            file=sys.stderr,
        )
        return 1
    if local and options.user and os.geteuid() == 0:
        print("install.sh: error: --user installs for an ordinary account: as root, leave it out", file=sys.stderr)
        return 1
    quiet_pyinfra()
    d = Deploy(options)
    d.account = pwd.getpwuid(os.geteuid()).pw_name if options.user else layout.APP_NAME
    try:
        d.family = detect_family(d)
        say(f"{d.family} family" + (" (dry run: nothing is changed)" if d.dry else ""))
        if options.rollback or options.rotate_secret_key:
            d.run_step("preflight", base_python)
            d.run_step("rollback" if options.rollback else "rotate", plan.rollback if options.rollback else plan.rotate)
            return 0
        for phase, steps in plan.phases(d):
            for step in steps:
                d.run_step(f"{phase}: {step.__module__.rsplit('.', 1)[-1]}.{step.__name__}", step)
    except DeployError as error:
        print(f"install.sh: error: {error}", file=sys.stderr, flush=True)
        return 1
    return 0


def base_python(d: Deploy) -> None:
    from .base import choose_python

    choose_python(d)
