"""Backups end to end: the schedule installed and run, and a restore after the data is destroyed, on stacks of
test_stacks.py.

Runs after the stack's "reload under load" check, whose install.sh run (a second release) took a backup before
migrating. Then:

- the schedule is installed: the timer enabled and valid (systemd-analyze verify), or the line in the account's
  crontab (crontab itself refuses a line it cannot parse);
- one scheduled run makes a backup owned by the service account, 0600 in a 0700 directory. The test makes the
  schedule come sooner, with the tool's own means: a timer drop-in (every 5 s), or the installed crontab line again
  with `* * * * *` (a run within a minute; one stack only);
- backup under load (0 failed requests), a note written after it, the data destroyed (the SQLite file deleted, the
  PostgreSQL table dropped), `manage.py restore` under load (0 failed requests): the note written before the backup is
  back, the one written after it is not.

BACKUP_STACKS names the stacks: SQLite and PostgreSQL, Flask and Django, systemd timers as root and --user, cron as
root (`crontab -u`) and --user.
"""

import shlex
import time

from tests.e2e.checks import Check, named
from tests.e2e.stack import PACKAGE, PREFIX, SLUG, USER_HOME

# name: how its schedule runs once in the test ("timer", "cron") or is only checked as installed (None).
BACKUP_STACKS = {
    "flask-gunicorn-nginx-systemd-sqlite": "timer",
    "flask-uwsgi-nginx-systemd-sqlite": "timer",  # --user: the account's own manager
    "django-uwsgi-apache-systemd-sqlite": None,
    "flask-gunicorn-nginx-supervisord-postgresql": "cron",  # root: crontab -u
    "django-uwsgi-apache-supervisord-postgresql": None,  # --user: the account's crontab
}
BACKUP_DIR = f"/var/lib/{SLUG}/backups"
SQLITE_FILE = f"/var/lib/{SLUG}/{SLUG}.sqlite3"
TIMER = f"{SLUG}-backup.timer"


def backups(stack) -> list[str]:
    out = stack.run(["find", BACKUP_DIR, "-maxdepth", "1", "-type", "f", "-name", f"{SLUG}-*", "-printf", "%f\n"],
                    check=False).stdout  # fmt: skip
    return sorted(out.split())


def account(stack) -> str:
    return stack.run(["stat", "-c", "%U", f"/var/lib/{SLUG}"]).stdout.strip()


def manage(stack, *arguments: str):
    command = stack.as_service_account(f"{stack.code_dir}/.venv/bin/python", f"{stack.code_dir}/manage.py", *arguments)
    result = stack.run(["bash", "-c", f"cd {stack.code_dir} && {shlex.join(command)}"], check=False)
    assert result.returncode == 0, f"manage.py {' '.join(arguments)}:\n{result.stdout[-2000:]}{result.stderr[-2000:]}"
    return result


def check_backup_before_migrating(stack) -> None:
    found = backups(stack)
    stack.report.metrics["backups_after_redeploy"] = found
    assert found, f"no backup in {BACKUP_DIR} after the redeploy (install.sh backs up before migrating)"


def user_timer_dir(stack) -> str:
    return f"{USER_HOME}/.config/systemd/user" if stack.user_mode else "/etc/systemd/system"


def crontab(stack) -> list[str]:
    """The account's crontab: read as root (crontab -u works for any account)."""
    return stack.run(["crontab", "-u", account(stack), "-l"]).stdout.splitlines()


def backup_line(stack) -> str:
    lines = [line for line in crontab(stack) if "manage.py backup" in line]
    assert len(lines) == 1, f"one backup line expected in {account(stack)}'s crontab: {lines}"
    return lines[0]


def check_schedule_installed(stack) -> None:
    if stack.supervisor == "systemd":
        enabled = stack.run(stack.systemctl("is-enabled", TIMER), check=False).stdout.strip()
        assert enabled == "enabled", f"{TIMER}: {enabled}"
        active = stack.run(stack.systemctl("is-active", TIMER), check=False).stdout.strip()
        assert active == "active", f"{TIMER}: {active}"
        if not stack.user_mode:
            verify = stack.run(["systemd-analyze", "verify", f"/etc/systemd/system/{TIMER}"], check=False)
            assert verify.returncode == 0 and not verify.stderr.strip(), verify.stderr
            drop_in = f"/etc/systemd/system/{SLUG}-backup.service.d/system.conf"
            user = stack.run(["systemctl", "show", "-P", "User", f"{SLUG}-backup.service"]).stdout.strip()
            assert user == SLUG, f"the backup service runs as {user!r}, not {SLUG} ({drop_in} not read?)"
    else:
        line = backup_line(stack)
        assert line.startswith("@daily cd /srv/") and line.endswith(f"| logger -t {SLUG}-backup"), line


def wait_for_new_backup(stack, before: list[str], timeout: float) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        new = sorted(set(backups(stack)) - set(before))
        if new:
            return new[-1]
        time.sleep(1)
    raise AssertionError(f"no new backup in {BACKUP_DIR} within {timeout:.0f} s")


def check_private(stack, name: str) -> None:
    directory = stack.run(["stat", "-c", "%U %a", BACKUP_DIR]).stdout.split()
    backup = stack.run(["stat", "-c", "%U %a", f"{BACKUP_DIR}/{name}"]).stdout.split()
    owner = account(stack)
    assert directory == [owner, "700"], f"{BACKUP_DIR}: {directory}, expected {owner} 700"
    assert backup == [owner, "600"], f"{name}: {backup}, expected {owner} 600"


def check_scheduled_run(stack) -> None:
    before = backups(stack)
    started = time.monotonic()
    if BACKUP_STACKS[stack.report.name] == "timer":
        drop_in_dir = f"{user_timer_dir(stack)}/{TIMER}.d"
        sooner = "[Timer]\nOnCalendar=\nOnCalendar=*:*:0/5\nRandomizedDelaySec=0\nAccuracySec=1s\n"
        stack.run(["bash", "-c", f"mkdir -p {drop_in_dir} && cat > {drop_in_dir}/e2e-sooner.conf"], input=sooner)
        if stack.user_mode:
            stack.run(["chown", "-R", f"{account(stack)}:", f"{USER_HOME}/.config/systemd/user/{TIMER}.d"])
        try:
            stack.run(stack.systemctl("daemon-reload"))
            stack.run(stack.systemctl("restart", TIMER))
            name = wait_for_new_backup(stack, before, timeout=30)
        finally:
            stack.run(["rm", "-rf", drop_in_dir])
            stack.run(stack.systemctl("daemon-reload"))
            stack.run(stack.systemctl("restart", TIMER))
        result = stack.run(stack.systemctl("show", "-P", "Result", f"{SLUG}-backup.service")).stdout.strip()
        assert result == "success", f"{SLUG}-backup.service: {result}"
    else:
        installed = crontab(stack)
        line = backup_line(stack)
        every_minute = "* * * * *" + line.removeprefix("@daily")
        owner = account(stack)
        stack.run(["crontab", "-u", owner, "-"], input="\n".join([*installed, every_minute]) + "\n")
        try:
            name = wait_for_new_backup(stack, before, timeout=75)
        finally:
            stack.run(["crontab", "-u", owner, "-"], input="\n".join(installed) + "\n")
    stack.report.metrics["scheduled_backup_seconds"] = round(time.monotonic() - started, 1)
    check_private(stack, name)


def destroy(stack) -> None:
    if stack.answers["database"] == "sqlite":
        stack.run(["bash", "-c", f"rm -f {SQLITE_FILE} {SQLITE_FILE}-wal {SQLITE_FILE}-shm"])
        assert stack.run(["test", "-e", SQLITE_FILE], check=False).returncode != 0, "the SQLite file is still there"
        return
    psql = ["runuser", "-u", "postgres", "--", "psql", "-v", "ON_ERROR_STOP=1", "-At", "-d", PACKAGE, "-c"]
    tables = stack.run([*psql, "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"]).stdout.split()
    notes = [table for table in tables if table.endswith("note")]
    assert len(notes) == 1, f"which table holds the notes? {tables}"
    stack.run([*psql, f"DROP TABLE {notes[0]} CASCADE"])
    page = stack.get(f"{PREFIX}/notes")
    assert page.status >= 500, f"the notes page answers {page.status} with its table dropped"


def under_load(stack, action, name: str):
    load, result = stack.under_load(action)
    stack.report.metrics[name] = {key: load[key] for key in ("requests", "failed", "max_latency")}
    assert load["failed"] == 0, f"{name}: {load['failed']} of {load['requests']} requests failed: {load['failures']}"
    return result


def check_restore_after_destruction(stack) -> None:
    kept = stack.write_note()
    taken = under_load(stack, lambda: manage(stack, "backup"), "backup_load").stdout
    assert f"backup: {BACKUP_DIR}/{SLUG}-" in taken, taken
    lost = stack.write_note()
    destroy(stack)
    started = time.monotonic()
    restored = under_load(stack, lambda: manage(stack, "restore"), "restore_load").stdout
    stack.report.metrics["restore_seconds"] = round(time.monotonic() - started, 1)
    assert "restored: " in restored, restored
    if stack.answers["database"] == "sqlite":
        # The workers still hold the deleted file open: a reload makes them open the restored one (README).
        stack.reload_and_wait()
    notes = stack.get(f"{PREFIX}/notes")
    assert notes.status == 200, f"notes after the restore -> {notes.status}"
    assert kept in notes.text, "the note written before the backup is not back"
    assert lost not in notes.text, "the note written after the backup is there: not the backup's contents"
    stack.check_healthz()


backup_stacks = named(*BACKUP_STACKS)
CHECKS = [
    Check(
        "after_redeploy",
        "backups: one taken before the new release migrated",
        check_backup_before_migrating,
        backup_stacks,
    ),
    Check("after_redeploy", "backups: the schedule is installed and valid", check_schedule_installed, backup_stacks),
    Check(
        "after_redeploy",
        "backups: a scheduled run makes a private backup",
        check_scheduled_run,
        lambda spec: bool(BACKUP_STACKS.get(spec.name)),
    ),
    Check(
        "after_redeploy",
        "backups: restore after the data is destroyed, under load",
        check_restore_after_destruction,
        backup_stacks,
    ),
]
