"""Soak: kill -9 of a Celery worker's main process in the middle of a job, many times; does every job complete?

    python -m bench.celery_kill9 [--trials 40]

Renders a Flask project with task_queue=celery, starts a scratch Redis (no persistence), beat (its task every 2 s,
as in the end-to-end check) and a worker, then per trial: start the example job (8 strips), wait until 1-6 strips
are done plus up to 0.4 s, kill -9 the worker, start a new one, and poll the job's status (which sends a lost job
again) until it ends or 60 s pass. Prints one line per trial and the totals: completed, sent again, failed or stuck.
Not part of the test command: each trial waits out the visibility timeout (10 s here).
"""

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from tests.render import render_cookiecutter
from tests.services import redis_server
from tests.venvs import framework_venv, venv_python

DRIVER = Path(__file__).with_name("celery_kill9_driver.py")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=40)
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch, redis_server() as broker:
        work = Path(scratch)
        project = render_cookiecutter(work / "project", framework="flask", task_queue="celery")
        python = venv_python(framework_venv("flask", work / "venv"))
        environment = {
            **os.environ,
            "DATA_DIR": str(work / "data"),
            "SECRET_KEY": "soak-" + "x" * 45,
            "CELERY_BROKER_URL": broker,
            "CELERY_VISIBILITY_TIMEOUT": "10",
            "CELERY_PRUNE_INTERVAL": "2",
            "PYTHONUNBUFFERED": "1",
        }
        driver = [str(python), str(DRIVER), str(arguments.trials), str(work / "worker.log")]
        return subprocess.run(driver, cwd=project, env=environment, check=False).returncode


if __name__ == "__main__":
    sys.exit(main())
