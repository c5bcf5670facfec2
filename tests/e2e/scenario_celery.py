"""task_queue=celery end to end, on the stacks of test_stacks.py generated with it (CELERY_STACKS there): a Django
stack under systemd as root and two Flask stacks installed with install.sh --user, one under the account's own
supervisord and one under the account's own systemd, all with the Redis install.sh starts; a Dash stack (systemd,
root, uWSGI) has the first three checks (JOB_ONLY_STACKS) and then tests/e2e/scenario_workerhost.py's. (Their test
ids have -celery: `pytest -m e2e -k celery` runs them.)

- a job started over HTTP, through the proxy under the prefix, completes: the status endpoint says SUCCESS, the PNG
  it names is on disk in DATA_DIR/media/, and its link under the prefix serves it through the proxy, also while the
  web app is stopped (the proxy serves it from disk, not the app);
- stopping the worker is warm: the strips running when the stop begins finish (their results are stored) and the
  stop returns after them; the job completes once the worker is back;
- kill -9 of the worker's main process: the supervisor starts a new one, and the interrupted job still completes
  (late acknowledgement: the broker hands the unacknowledged strips out again once CELERY_VISIBILITY_TIMEOUT, set
  short here, has passed);
- the broker is the app's own Redis (install.sh wrote its socket into .env): the app's account gets PONG on the
  socket, another account (nobody) is refused, no Redis listens on a TCP port, and the redeploys before these checks
  left it running (the same run id);
- a message lost on the way to a worker (taken off Redis's queue with the worker stopped, as a worker killed between
  taking and recording it would lose it): the job's status requests see no message of the job anywhere and send the
  job again, once, and it completes;
- beat sends its periodic task once per period (CELERY_PRUNE_INTERVAL=2 s), also across a restart of beat: the
  task's log lines are at least a period apart and as many as the time allows.
"""

import calendar
import itertools
import json
import re
import time

from tests.e2e.checks import Check
from tests.e2e.stack import PACKAGE, PREFIX, SLUG, USER, USER_CONF_DIR

DATA_DIR = f"/var/lib/{SLUG}"
PRUNE_INTERVAL = 2
VISIBILITY_TIMEOUT = 10
JOB_TIMEOUT = 90
SMALL, LARGE = 160, 640  # image widths: a quick job, and one that keeps the worker's processes busy for seconds


# Stacks with the first two checks only (the Dash one, whose time goes to tests/e2e/scenario_workerhost.py): the
# warm stop, kill -9 and beat are the supervisor's and Celery's, the same for every framework.
JOB_ONLY_STACKS = {"dash-uwsgi-nginx-systemd-sqlite"}


# Removes from the list KEYS[1] the first message that contains ARGV[1], and returns it.
TAKE_FIRST_MATCH = """
for _, message in ipairs(redis.call('LRANGE', KEYS[1], 0, -1)) do
    if string.find(message, ARGV[1], 1, true) then
        redis.call('LREM', KEYS[1], 1, message)
        return message
    end
end
"""


BROKER_SOCKET = f"/run/{SLUG}/redis.sock"


def redis_cli(stack, *arguments: str, account: str = "", check: bool = True):
    """redis-cli on the app's own Redis, as the app's account unless `account` names another (the socket is closed
    to others)."""
    account = account or (USER if stack.user_mode else SLUG)
    command = ["runuser", "-u", account, "--", "redis-cli", "-s", BROKER_SOCKET, *arguments]
    return stack.run(command, check=check)


def broker_run_id(stack) -> str:
    """Redis's run id: a new one each time the server starts."""
    return re.search(r"^run_id:(\w+)", redis_cli(stack, "info", "server").stdout, re.M)[1]


def record_broker_run_id(stack) -> None:
    stack.report.metrics["broker_run_id_before_redeploys"] = broker_run_id(stack)


def control(stack, *arguments: str) -> list[str]:
    """systemctl or supervisorctl for the worker and beat, as for the web app (the account's own with --user)."""
    if stack.supervisor == "systemd":
        return stack.systemctl(*arguments)
    if stack.user_mode:
        supervisorctl = f"{stack.code_dir}/.venv/bin/supervisorctl"
        return stack.as_user(supervisorctl, "-c", f"{USER_CONF_DIR}/supervisord.conf", *arguments)
    return ["supervisorctl", *arguments]


def worker_pid(stack) -> int:
    if stack.supervisor == "systemd":
        out = stack.run(stack.systemctl("show", "--property=MainPID", "--value", f"{SLUG}-worker")).stdout
    else:
        out = stack.run(control(stack, "pid", f"{SLUG}-worker"), check=False).stdout
    return int(out.strip()) if out.strip().isdigit() else 0


def wait_for_worker(stack, not_pid: int = 0, timeout: float = 60) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pid = worker_pid(stack)
        if pid and pid != not_pid:
            return pid
        time.sleep(0.2)
    raise AssertionError(f"no worker running (not {not_pid}) after {timeout} s: {worker_log(stack)}")


def worker_log(stack) -> str:
    if stack.supervisor == "systemd":
        return stack.journal(f"{SLUG}-worker")[-3000:]
    return stack.run(["cat", f"{stack.log_dir}/celery-worker.log"], check=False).stdout[-3000:]


def configure(stack) -> None:
    """Short periods for the test, in .env (the workers read it when they start), then a restart of both."""
    settings = f"CELERY_VISIBILITY_TIMEOUT={VISIBILITY_TIMEOUT}\nCELERY_PRUNE_INTERVAL={PRUNE_INTERVAL}\n"
    stack.run(["bash", "-c", f"cat >> {stack.app_dir}/.env"], input=settings)
    stack.run(control(stack, "restart", f"{SLUG}-worker", f"{SLUG}-beat"), timeout=120)
    wait_for_worker(stack)


def check_private_broker(stack) -> None:
    broker = stack.run(["grep", "^CELERY_BROKER_URL=", f"{stack.app_dir}/.env"]).stdout.strip()
    assert broker == f"CELERY_BROKER_URL=redis+socket://{BROKER_SOCKET}", broker
    own = redis_cli(stack, "ping", check=False)
    assert own.stdout.strip() == "PONG", f"the app's account: {own.stdout}{own.stderr}"
    other = redis_cli(stack, "ping", account="nobody", check=False)
    assert "PONG" not in other.stdout and "Permission denied" in other.stdout + other.stderr, (
        f"nobody: {other.stdout}{other.stderr}"
    )
    listening = stack.run(["ss", "-Hltnp"]).stdout
    assert "redis" not in listening, f"a Redis listens on TCP:\n{listening}"
    # The redeploys since (reload under load, releases, rollback) left it running: waiting tasks are not dropped.
    before = stack.report.metrics.get("broker_run_id_before_redeploys")
    assert before and broker_run_id(stack) == before, f"the app's Redis was restarted by a redeploy ({before})"


def start_job(stack, width: int) -> dict:
    """POST the job as the page does (JSON; Django: with the CSRF token of the page's cookie)."""
    jar = "/root/celery-cookies.txt"
    headers = ["-H", "Content-Type: application/json", "-H", "Accept: application/json"]
    page = stack.get(f"{PREFIX}/jobs", "-c", jar, "-b", jar)
    assert page.status == 200, f"GET {PREFIX}/jobs -> {page.status}"
    token = re.search(r'data-csrf="([^"]+)"', page.text)
    if token:
        headers += ["-H", f"X-CSRFToken: {token[1]}"]
    response = stack.get(f"{PREFIX}/jobs", "-c", jar, "-b", jar, *headers, "--data", json.dumps({"width": width}))
    assert response.status == 202, f"POST {PREFIX}/jobs -> {response.status} {response.text[:300]}"
    status = json.loads(response.text)
    assert status["status_url"] == f"{PREFIX}/jobs/{status['id']}", status
    return status


def job_status(stack, job: dict) -> dict:
    response = stack.get(job["status_url"])
    assert response.status == 200, f"GET {job['status_url']} -> {response.status}"
    return json.loads(response.text)


def wait_for(stack, job: dict, condition, timeout: float = JOB_TIMEOUT) -> dict:
    deadline = time.monotonic() + timeout
    status = job_status(stack, job)
    while not condition(status) and time.monotonic() < deadline:
        time.sleep(0.2)
        status = job_status(stack, job)
    assert condition(status), f"after {timeout} s: {status}\n{worker_log(stack)}"
    return status


def assert_done(stack, job: dict, status: dict) -> None:
    assert status["state"] == "SUCCESS" and status["done"] == status["total"], status
    assert status["url"] == f"{PREFIX}/media/mandelbrot-{job['id']}.png", status
    header = stack.run(["head", "-c", "8", f"{DATA_DIR}/media/{status['file']}"], text=False).stdout
    assert header == b"\x89PNG\r\n\x1a\n", f"not a PNG on disk: {header!r}"


def check_job_completes(stack) -> None:
    started = time.monotonic()
    job = start_job(stack, SMALL)
    assert time.monotonic() - started < 5, "the POST waited for the job"
    status = wait_for(stack, job, lambda status: status["state"] in ("SUCCESS", "FAILURE"))
    assert_done(stack, job, status)
    stack.report.metrics["celery_job_seconds"] = round(time.monotonic() - started, 2)
    check_result_served_by_the_proxy(stack, status)


def check_result_served_by_the_proxy(stack, status: dict) -> None:
    """The page's link to the result, through the proxy under the prefix: the PNG as on disk, also while the web app
    is stopped (so the proxy served it from disk, never the app)."""
    on_disk = stack.run(["cat", f"{DATA_DIR}/media/{status['file']}"], text=False).stdout
    served = stack.get(status["url"])
    assert served.status == 200 and served.body == on_disk, f"GET {status['url']} -> {served.status}"
    assert served.headers.get("content-type", "").startswith("image/png"), served.headers
    stack.run(stack.control("stop"))
    try:
        down = stack.get(f"{PREFIX}/")
        assert down.status >= 500, f"the web app still answers while stopped: {down.status}"
        again = stack.get(status["url"])
        assert again.status == 200 and again.body == on_disk, f"with the app stopped: {status['url']} -> {again.status}"
    finally:
        stack.run(stack.control("start"))
        stack.wait_for_200()


def check_warm_stop(stack) -> None:
    job = start_job(stack, LARGE)
    # Some strips done and others running: the stop comes in the middle of the job.
    before = wait_for(stack, job, lambda status: 0 < status["done"] < status["total"])["done"]
    started = time.monotonic()
    stop = stack.run(control(stack, "stop", f"{SLUG}-worker"), timeout=120, check=False)
    stop_seconds = time.monotonic() - started
    assert stop.returncode == 0, stop.stdout + stop.stderr
    after = job_status(stack, job)["done"]
    stack.report.metrics["celery_warm_stop"] = {"done_before": before, "done_after": after, "seconds": stop_seconds}
    # Killed strips would go back to the queue undone: more done means the running ones finished before the stop.
    assert after > before, f"no running strip finished during the stop ({before} -> {after})\n{worker_log(stack)}"
    stack.run(control(stack, "start", f"{SLUG}-worker"), timeout=60)
    wait_for_worker(stack)
    assert_done(stack, job, wait_for(stack, job, lambda status: status["state"] in ("SUCCESS", "FAILURE")))


def check_kill_worker(stack) -> None:
    job = start_job(stack, LARGE)
    wait_for(stack, job, lambda status: 0 < status["done"] < status["total"])
    pid = worker_pid(stack)
    assert pid, "no worker"
    stack.run(["kill", "-9", str(pid)])
    new_pid = wait_for_worker(stack, not_pid=pid)
    stack.report.metrics["celery_kill9"] = {"old_pid": pid, "new_pid": new_pid}
    status = wait_for(stack, job, lambda status: status["state"] in ("SUCCESS", "FAILURE"))
    # sends > 1: the kill came while Redis was handing a message over, and the job was sent again.
    stack.report.metrics["celery_kill9"]["sends"] = status["sends"]
    assert_done(stack, job, status)


def check_lost_message(stack) -> None:
    """Kombu's Redis transport takes a message off the queue, then records it as delivered: a worker killed between
    the two loses it (the kill -9 above does, now and then). The same loss on purpose: with the worker stopped, one
    of the job's messages is taken off the queue. The job's status requests see it lost and send it again."""
    stack.run(control(stack, "stop", f"{SLUG}-worker"), timeout=120)
    try:
        job = start_job(stack, SMALL)
        # One of the job's strips (beat's tasks wait in the queue too).
        taken = redis_cli(stack, "eval", TAKE_FIRST_MATCH, "1", "celery", f'"task": "{PACKAGE}.tasks.render_strip"')
        assert "render_strip" in taken.stdout, f"no strip of the job in the queue: {taken.stdout[:300]}"
    finally:
        stack.run(control(stack, "start", f"{SLUG}-worker"), timeout=60)
    wait_for_worker(stack)
    status = wait_for(stack, job, lambda status: status["state"] in ("SUCCESS", "FAILURE"))
    stack.report.metrics["celery_lost_message"] = {"sends": status["sends"]}
    assert_done(stack, job, status)
    assert status["sends"] == 2, f"sent {status['sends']} times, not again once: {status}"


def prune_runs(stack) -> list[float]:
    out = stack.run(["cat", f"{DATA_DIR}/prune.log"], check=False).stdout
    return [calendar.timegm(time.strptime(line.split()[0], "%Y-%m-%dT%H:%M:%SZ")) for line in out.splitlines() if line]


def check_beat_once_per_period(stack) -> None:
    first = len(prune_runs(stack))
    started = time.monotonic()
    time.sleep(3 * PRUNE_INTERVAL)
    stack.run(control(stack, "restart", f"{SLUG}-beat"), timeout=60)
    time.sleep(3 * PRUNE_INTERVAL)
    elapsed = time.monotonic() - started
    runs = prune_runs(stack)[first:]
    gaps = [later - earlier for earlier, later in itertools.pairwise(runs)]
    stack.report.metrics["celery_beat_runs"] = {"runs": len(runs), "gaps": gaps, "seconds": round(elapsed, 1)}
    # Two beats (or a restart that sends again) would put two runs within the same second or so.
    assert gaps and min(gaps) >= PRUNE_INTERVAL - 1, f"runs closer than the period: {gaps}"
    most = elapsed / PRUNE_INTERVAL + 2
    assert most / 2 <= len(runs) <= most, f"{len(runs)} runs in {elapsed:.1f} s, period {PRUNE_INTERVAL} s"


def celery(spec) -> bool:
    return spec.celery


def all_of_celery(spec) -> bool:
    """Not only the job: the worker's stop, kill -9, a lost message and beat too."""
    return spec.celery and spec.name not in JOB_ONLY_STACKS


CHECKS = [
    Check(
        "before_redeploy", "celery: the app's own Redis before the redeploys (its run id)", record_broker_run_id, celery
    ),
    Check("after_redeploy", "celery: short settings in .env, workers restarted", configure, celery),
    Check(
        "after_redeploy",
        "celery: the broker is the app's own Redis, closed to other accounts",
        check_private_broker,
        celery,
    ),
    Check(
        "after_redeploy",
        "celery: a job over HTTP completes, its file served from media/ by the proxy",
        check_job_completes,
        celery,
    ),
    Check("after_redeploy", "celery: stopping the worker lets running tasks finish", check_warm_stop, all_of_celery),
    Check(
        "after_redeploy",
        "celery: kill -9 of the worker, restarted, the job completes",
        check_kill_worker,
        all_of_celery,
    ),
    Check(
        "after_redeploy",
        "celery: a message Redis lost on the way to a worker, the job is sent again",
        check_lost_message,
        all_of_celery,
    ),
    Check(
        "after_redeploy",
        "celery: beat runs its task once per period, across a restart",
        check_beat_once_per_period,
        all_of_celery,
    ),
]
