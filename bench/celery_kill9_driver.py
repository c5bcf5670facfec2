"""The trials of bench/celery_kill9.py, run by the generated project's Python in its directory (argv: trials, the
workers' log file). Imports the generated package, so it runs there, not in the template's environment."""

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

# The generated project's package, from the working directory (a script's own directory comes first otherwise).
sys.path.insert(0, os.getcwd())
from my_web_app import create_app, tasks

CELERY = [sys.executable, "-m", "celery", "--app", "my_web_app.worker"]
JOB_SECONDS = 60


def start(log, *command: str) -> subprocess.Popen:
    return subprocess.Popen([*CELERY, *command, "--loglevel", "INFO"], stdout=log, stderr=subprocess.STDOUT)


def main(trials: int, log_path: str) -> int:
    app = create_app()
    totals = {"completed": 0, "sent again": 0, "failed or stuck": 0}
    with open(log_path, "a") as log, app.app_context():
        schedule = Path(os.environ["DATA_DIR"]) / "celerybeat-schedule"
        beat = start(log, "beat", "--schedule", str(schedule))
        worker = start(log, "worker", "--hostname", "soak@%h")
        time.sleep(5)
        try:
            for trial in range(trials):
                job = tasks.start_render(640)
                target = random.randint(1, 6)
                while tasks.job_status(job)["done"] < target:
                    time.sleep(0.02)
                time.sleep(random.uniform(0, 0.4))
                worker.send_signal(signal.SIGKILL)
                worker.wait()
                worker = start(log, "worker", "--hostname", "soak@%h")
                started = time.monotonic()
                status = tasks.job_status(job)
                while status["state"] not in ("SUCCESS", "FAILURE") and time.monotonic() - started < JOB_SECONDS:
                    time.sleep(0.2)
                    status = tasks.job_status(job)
                outcome = "completed" if status["state"] == "SUCCESS" else "failed or stuck"
                totals[outcome] += 1
                totals["sent again"] += status["sends"] > 1
                seconds = time.monotonic() - started
                print(
                    f"trial {trial}: killed after {target}+ strips; {status['state']}, {status['done']}/8 strips,"
                    f" sent {status['sends']} time(s), {seconds:.1f} s",
                    flush=True,
                )
        finally:
            worker.terminate()
            beat.terminate()
            worker.wait()
            beat.wait()
    print(", ".join(f"{name}: {count}" for name, count in totals.items()), f"of {trials} trials")
    return 0 if totals["failed or stuck"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main(int(sys.argv[1]), sys.argv[2]))
