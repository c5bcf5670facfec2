"""Write the generated project's secrets with the project's own code, so hook and `manage.py init-config` agree."""

import importlib.util
from pathlib import Path


def ensure(project: Path, package_name: str) -> list[str]:
    """Add the missing secrets to <project>/.env (0600); return their names. Existing values are never touched.

    The project's envfile module uses the standard library only, so it loads here without the project's dependencies.
    """
    module_path = project / package_name / "envfile.py"
    spec = importlib.util.spec_from_file_location(f"{package_name}_envfile", module_path)
    envfile = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(envfile)
    return envfile.ensure_secrets(project / ".env")
