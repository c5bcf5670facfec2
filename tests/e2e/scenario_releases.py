"""Releases end to end: the health-gated switch and the rollback command, under load, on stacks of test_stacks.py.

Runs after the stack's "reload under load" check, whose install.sh run made the second release (v2, 0 failed requests
checked there) beside the first (v1). Then, with 16 clients on a page all along (the same bounded load):

- v3, whose /healthz answers 500: install.sh switches to it, finds /healthz failing through the proxy, switches back
  to v2, reloads, and exits non-zero saying so; no request fails (v3 serves the page, only its health check fails),
  v2 is live and serves afterwards.
- a release whose migration fails (a step failing mid-deploy): install.sh stops before the switch, exits non-zero
  naming the step, v2 stays live and serves, no request fails; a file private in the checkout (mode 0600) stays
  unreadable to other accounts in that release.
- `install.sh --rollback`: back to v1, gracefully (a release that never went live does not count); 0 failed
  requests, v1's page served.

- On the systemd stack, a new dependency: a new virtualenv, and a restart instead of a reload (the server's own Python
  comes from it), still without a failed request (the socket holds requests meanwhile).

RELEASE_STACKS names the stacks: systemd as root with gunicorn, supervisord with --user and uWSGI.
"""

import re
import time

from tests.e2e.checks import Check, named
from tests.e2e.stack import INSTALL_TIMEOUT, PREFIX

RELEASE_STACKS = {"flask-gunicorn-nginx-systemd-sqlite", "dash-uwsgi-nginx-supervisord-sqlite"}
HEALTHZ_DOC = '    """JSON status for monitors and the deploy checks."""'
BROKEN_MARK = "e2e-broken-healthz"
# A Flask migration that raises: the deploy fails in its prepare phase, before the switch.
BROKEN_MIGRATION = """revision = "0002_e2e_broken"
down_revision = "0001"


def upgrade():
    raise RuntimeError("e2e-broken-migration")


def downgrade():
    pass
"""


def releases(stack) -> list[str]:
    out = stack.run(["find", f"{stack.app_dir}/releases", "-mindepth", "1", "-maxdepth", "1", "-type", "d",
                     "-printf", "%f\n"]).stdout  # fmt: skip
    return sorted(out.split())


def live(stack) -> str:
    return stack.run(["readlink", stack.code_dir]).stdout.strip().rsplit("/", 1)[-1]


def about(stack) -> str:
    return stack.get(f"{PREFIX}/about").text


def under_load(stack, action, name: str) -> tuple[dict, object]:
    """Run action() under the reload check's load (Stack.under_load); no request may fail."""

    def timed():
        started = time.monotonic()
        result = action()
        stack.report.metrics[f"{name}_seconds"] = round(time.monotonic() - started, 2)
        return result

    load, result = stack.under_load(timed)
    stack.report.metrics[name] = {k: load[k] for k in ("requests", "failed", "stale_retries", "max_latency")}
    assert load["failed"] == 0, f"{load['failed']} of {load['requests']} requests failed: {load['failures']}"
    return load, result


def check_previous_release_kept(stack) -> None:
    names = releases(stack)
    stack.report.metrics["releases_after_v2"] = names
    assert len(names) >= 2, f"one release on disk after a redeploy: {names}"
    assert live(stack) == names[-1], f"live {live(stack)}, newest {names[-1]}"
    stack.v1, stack.v2 = names[-2], names[-1]
    # The same dependencies: one virtualenv for both; .env outside the releases.
    venvs = {stack.run(["readlink", "-f", f"{stack.app_dir}/releases/{name}/.venv"]).stdout for name in names[-2:]}
    assert len(venvs) == 1, f"a virtualenv per release although the dependencies are the same: {venvs}"
    assert stack.run(["readlink", f"{stack.code_dir}/.env"]).stdout.strip() == "../../.env"
    sizes = stack.run(["du", "-sk", "--apparent-size", f"{stack.app_dir}/releases/{names[-1]}",
                       venvs.pop().strip()]).stdout.split()  # fmt: skip
    stack.report.metrics["release_kib"] = int(sizes[0])
    stack.report.metrics["virtualenv_kib"] = int(sizes[2])


def healthz_source(stack) -> str:
    if stack.framework == "django":
        return f"{stack.checkout}/my_web_app/views.py"
    return f"{stack.checkout}/my_web_app/routes.py"


def check_failed_health_rolls_back(stack) -> None:
    assert hasattr(stack, "v2"), "no v1 and v2 releases to start from (the check before failed)"
    marker = re.search(r"e2e-reload-[0-9a-f]+", about(stack))
    assert marker, "v2's page lacks the marker check_reload_under_load added"
    source = healthz_source(stack)
    broken = (
        '    return JsonResponse({"status": "' + BROKEN_MARK + '"}, status=500)'
        if stack.framework == "django"
        else '    return {"status": "' + BROKEN_MARK + '"}, 500'
    )
    stack.run(["sed", "-i", f"s|^{re.escape(HEALTHZ_DOC)}$|&\\n{broken}|", source])
    assert BROKEN_MARK in stack.run(["cat", source]).stdout, "the checkout's /healthz was not broken"
    try:
        _, result = under_load(stack, lambda: stack.run(stack.install_command(), timeout=INSTALL_TIMEOUT, check=False),
                               "broken_release_load")  # fmt: skip
    finally:
        stack.run(["sed", "-i", f"/{BROKEN_MARK}/d", source])
    output = result.stdout + result.stderr
    stack.report.metrics["broken_release_output"] = output[-800:]
    assert result.returncode != 0, f"install.sh succeeded with a failing /healthz:\n{output[-3000:]}"
    assert f"rolled back to {stack.v2}, which answers" in result.stderr, output[-3000:]
    assert live(stack) == stack.v2, f"live: {live(stack)}, expected {stack.v2}"
    health = stack.get(f"{PREFIX}/healthz")
    assert health.status == 200 and BROKEN_MARK not in health.text, f"/healthz after: {health.status} {health.text}"
    assert marker[0] in about(stack), "v2's page is not what is served after the rollback"


def check_rollback_command(stack) -> None:
    assert hasattr(stack, "v1"), "no v1 and v2 releases to start from (an earlier check failed)"
    command = [*stack.install_command(), "--rollback"]
    _, result = under_load(stack, lambda: stack.run(command, timeout=INSTALL_TIMEOUT, check=False), "rollback_load")
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"install.sh --rollback failed:\n{output[-3000:]}"
    assert f"rolled back from {stack.v2} to {stack.v1}" in result.stdout, output[-3000:]
    assert live(stack) == stack.v1, f"live: {live(stack)}, expected {stack.v1}"
    # v2's page carried the marker check_reload_under_load added; v1's does not.
    assert "e2e-reload-" not in about(stack), "v2's page is still served after the rollback to v1"
    stack.check_healthz()


def check_new_dependency(stack) -> None:
    """A dependency more (one Flask installs anyway, so the wheelhouse has it): a virtualenv of its own, made while
    the live release serves; the switch restarts the server, through the socket, without a failed request."""
    pyproject = f"{stack.checkout}/pyproject.toml"
    stack.run(["sed", "-i", 's|^dependencies = \\[$|&\\n    "itsdangerous",|', pyproject])
    assert '"itsdangerous",' in stack.run(["cat", pyproject]).stdout, "the dependency was not added"
    before = stack.run(["readlink", "-f", f"{stack.code_dir}/.venv"]).stdout.strip()
    _, result = under_load(stack, lambda: stack.run(stack.install_command(), timeout=INSTALL_TIMEOUT, check=False),
                           "new_dependency_load")  # fmt: skip
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"install.sh with a new dependency failed:\n{output[-3000:]}"
    after = stack.run(["readlink", "-f", f"{stack.code_dir}/.venv"]).stdout.strip()
    assert after != before, "the same virtualenv although the dependencies changed"
    assert "systemctl restart my-web-app" in result.stdout, output[-3000:]
    stack.check_healthz()


def check_failed_step_keeps_live_release(stack) -> None:
    """A migration that raises: the deploy's prepare phase fails before the switch. install.sh exits non-zero and
    names the step; the live release is still v2 and serves; no request fails. The checkout also holds a file of
    mode 0600 (a lab's own secrets): in the new release it is not readable by other accounts."""
    assert hasattr(stack, "v2"), "no v2 release to start from (an earlier check failed)"
    migration = f"{stack.checkout}/my_web_app/migrations/versions/0002_e2e_broken.py"
    private = f"{stack.checkout}/private-notes.txt"
    owner = stack.run(["stat", "-c", "%U", stack.checkout]).stdout.strip()
    write = f"cat > {migration} && printf 'secret\\n' > {private} && chmod 0600 {private}"
    write += f" && chown {owner}: {migration} {private}"
    stack.run(["bash", "-c", write], input=BROKEN_MIGRATION)
    before = releases(stack)
    try:
        _, result = under_load(stack, lambda: stack.run(stack.install_command(), timeout=INSTALL_TIMEOUT, check=False),
                               "failed_step_load")  # fmt: skip
    finally:
        stack.run(["rm", "-f", migration, private])
    output = result.stdout + result.stderr
    stack.report.metrics["failed_step_output"] = output[-800:]
    assert result.returncode != 0, f"install.sh succeeded with a failing migration:\n{output[-3000:]}"
    step = r"prepare: framework_flask\.prepare: \+ manage\.py db upgrade failed"
    said = re.search(rf"install\.sh: error: {step}", result.stderr)
    assert said, f"the error does not name the step:\n{output[-3000:]}"
    assert live(stack) == stack.v2, f"live: {live(stack)}, expected {stack.v2}"
    health = stack.get(f"{PREFIX}/healthz")
    assert health.status == 200, f"/healthz after the failed deploy: {health.status}"
    new = sorted(set(releases(stack)) - set(before))
    assert len(new) == 1, f"releases made by the failed deploy: {new}"
    copy = f"{stack.app_dir}/releases/{new[0]}/private-notes.txt"
    mode = stack.run(["stat", "-c", "%a", copy]).stdout.strip()
    assert mode.endswith("0"), f"{copy}: mode {mode}, readable by other accounts"
    denied = stack.run(["runuser", "-u", "nobody", "--", "cat", copy], check=False)
    assert denied.returncode != 0, f"another account reads {copy}"


release_stacks = named(*RELEASE_STACKS)
CHECKS = [
    Check("after_redeploy", "releases: v1 kept beside the live v2", check_previous_release_kept, release_stacks),
    Check(
        "after_redeploy",
        "releases: v3 failing /healthz rolled back to v2 under load",
        check_failed_health_rolls_back,
        release_stacks,
    ),
    Check(
        "after_redeploy",
        "releases: a step failing mid-deploy keeps v2 live under load",
        check_failed_step_keeps_live_release,
        release_stacks,
    ),
    Check("after_redeploy", "releases: install.sh --rollback to v1 under load", check_rollback_command, release_stacks),
    Check(
        "after_redeploy",
        "releases: a new dependency, a new virtualenv, restart under load",
        check_new_dependency,
        lambda spec: spec.name in RELEASE_STACKS and spec.supervisor == "systemd",
    ),
]
