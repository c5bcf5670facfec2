"""Virtual environments for running generated projects, one per framework, built once and reused.

A venv holds the union of what every database x server combination of its framework needs; the default project is
first installed from its wheel (proving it builds and ships its templates, static files and migrations), then removed
so each test imports the freshly generated code.
"""

import hashlib
import subprocess
import sys
import tomllib
from pathlib import Path

from filelock import FileLock

from tests.render import TEMPLATE_ROOT, combinations, render_cookiecutter, valid_for

VENV_ROOT = TEMPLATE_ROOT / "build" / "venvs"


def requirements(project: Path) -> list[str]:
    table = tomllib.loads((project / "pyproject.toml").read_text())["project"]
    return [*table["dependencies"], *table["optional-dependencies"]["dev"]]


def venv_python(venv: Path) -> Path:
    return venv / "bin" / "python"


def framework_venv(framework: str, workdir: Path) -> Path:
    """The venv for `framework`, rebuilt only when the template's requirements for it change."""
    options = {"task_queue": "celery", **({"websockets": "channels"} if framework == "django" else {})}
    projects = [
        # task_queue=celery: Celery's dependencies too (a superset of task_queue=none's); Django's websockets too.
        render_cookiecutter(workdir / f"{index}", **valid_for({"framework": framework, **options, **answers}))
        for index, answers in enumerate(combinations("database", "server"))
    ]
    wanted = sorted({requirement for project in projects for requirement in requirements(project)})
    digest = hashlib.sha256("\n".join([sys.version, *wanted]).encode()).hexdigest()[:12]
    venv = VENV_ROOT / f"{framework}-{digest}"
    VENV_ROOT.mkdir(parents=True, exist_ok=True)
    with FileLock(str(venv) + ".lock"):
        if not (venv / "ready").exists():
            build(venv, projects[0], wanted)
    return venv


def build(venv: Path, default_project: Path, wanted: list[str]) -> None:
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
    pip = [str(venv_python(venv)), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    subprocess.run([*pip, f"{default_project}[dev]"], check=True)
    assert_wheel_ships_package_data(venv, default_project)
    subprocess.run(
        [str(venv_python(venv)), "-m", "pip", "uninstall", "--quiet", "-y", default_project.name], check=True
    )
    subprocess.run([*pip, *wanted], check=True)
    (venv / "ready").write_text("\n".join(wanted) + "\n")


def assert_wheel_ships_package_data(venv: Path, project: Path) -> None:
    """Everything in the package directory (templates, static, migrations) must be inside the installed wheel."""
    purelib = subprocess.run(
        [str(venv_python(venv)), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True, capture_output=True, text=True,
    ).stdout.strip()  # fmt: skip
    package = next(path for path in project.iterdir() if (path / "envfile.py").is_file())
    shipped = {
        path.relative_to(project) for path in package.rglob("*") if path.is_file() and "__pycache__" not in str(path)
    }
    installed = {path.relative_to(purelib) for path in Path(purelib, package.name).rglob("*") if path.is_file()}
    missing = shipped - installed
    assert not missing, f"the wheel of {project.name} lacks {sorted(map(str, missing))}"
