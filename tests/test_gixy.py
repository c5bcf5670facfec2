"""gixy-next, nginx's configuration analyzer, on every distinct generated nginx file: each deploy/nginx-shared-site.conf
inside the own site generated with it (deploy/nginx.conf, so every distinct site too), and each joinable one inside a
host's HTTP and HTTPS server blocks with headers of their own (tests/validators.py), as `install.sh --join` adds it.

A finding in a generated file passes only when that file explains it as a deliberate choice, in a comment naming the
check: `gixy: <plugin>`. Findings in the host's own blocks are the host's. Nothing is fetched (no --regex-redos-url).
"""

import json
import re
import shutil
import sys
from pathlib import Path

import pytest

from tests import validators
from tests.ci import skip_or_fail
from tests.deploy_support import UniqueFile, make_scratch_tree, params, relocate, self_signed_certificate

pytestmark = pytest.mark.deploy

SLUG = "my-web-app"
# The main configuration a distribution ships, reduced to what gixy reads: the site is included from the http block.
MAIN = """\
worker_processes auto;
events {}
http {
    include mime.types;
    include site.conf;
}
"""


@pytest.fixture(scope="module")
def certificates(tmp_path_factory):
    return self_signed_certificate(tmp_path_factory.mktemp("certificates"))


@pytest.fixture
def scratch(tmp_path):
    make_scratch_tree(tmp_path, SLUG)
    return tmp_path


def gixy() -> str:
    found = shutil.which("gixy", path=str(Path(sys.executable).parent)) or shutil.which("gixy")
    if found is None:
        skip_or_fail("gixy-next not installed in the test environment: pip install --group dev")
    return found


def findings(scratch: Path, site: str, snippet: str) -> list[dict]:
    """gixy's findings on a main configuration including `site`, which includes `snippet` as snippets/<slug>.conf."""
    shutil.copy("/etc/nginx/mime.types", scratch / "mime.types")
    (scratch / "snippets").mkdir(exist_ok=True)
    (scratch / "snippets" / f"{SLUG}.conf").write_text(snippet)
    (scratch / "site.conf").write_text(site)
    (scratch / "nginx.conf").write_text(MAIN)
    check = validators.run([gixy(), "--format", "json", str(scratch / "nginx.conf")])
    assert check.returncode in (0, 1) and check.stdout.strip().startswith("["), check
    return json.loads(check.stdout)


def unexplained(found: list[dict], generated: list[Path]) -> list[str]:
    """The findings in the generated files whose file does not name the check in a comment."""
    problems = []
    for finding in found:
        path = Path(finding.get("file") or finding["path"])
        if path not in generated:
            continue  # the host's own block, or the scratch main configuration
        comments = "\n".join(re.findall(r"#.*", path.read_text()))
        if f"gixy: {finding['plugin']}" not in comments:
            problems.append(f"{path.name}:{finding.get('line')}: [{finding['plugin']}] {finding['reason']}")
    return problems


def relocated(text: str, scratch: Path, certificates: Path) -> str:
    return relocate(text, SLUG, scratch, certificates)


@pytest.mark.parametrize("unique", params("nginx-shared"))
def test_own_site_has_only_explained_findings(unique: UniqueFile, scratch, certificates):
    site = relocated(unique.companion["nginx.conf"], scratch, certificates)
    found = findings(scratch, site, relocated(unique.content, scratch, certificates))
    problems = unexplained(found, [scratch / "site.conf", scratch / "snippets" / f"{SLUG}.conf"])
    assert not problems, problems


@pytest.mark.parametrize(
    "unique", [param for param in params("nginx-shared") if param.values[0].combos[0]["url_prefix"] != "/"]
)
def test_joined_lines_have_only_explained_findings(unique: UniqueFile, scratch, certificates):
    host = validators.nginx_host_servers(f"include {scratch}/snippets/{SLUG}.conf;", scratch, certificates)
    found = findings(scratch, host, relocated(unique.content, scratch, certificates))
    assert not unexplained(found, [scratch / "snippets" / f"{SLUG}.conf"])


def test_gixy_rejects_what_the_file_does_not_explain(scratch, certificates):
    """The lines with CORS, inside a host's blocks, with the explanations taken out: gixy's findings are reported."""
    unique = next(
        param.values[0] for param in params("nginx-shared")
        if "if ($http_origin" in param.values[0].content and param.values[0].combos[0]["url_prefix"] != "/"
    )  # fmt: skip
    bare = re.sub(r"gixy: ", "", unique.content)
    host = validators.nginx_host_servers(f"include {scratch}/snippets/{SLUG}.conf;", scratch, certificates)
    problems = unexplained(findings(scratch, host, relocated(bare, scratch, certificates)),
                           [scratch / "snippets" / f"{SLUG}.conf"])  # fmt: skip
    plugins = {re.search(r"\[(\w+)\]", problem)[1] for problem in problems}
    assert {"if_is_evil", "origins", "add_header_redefinition"} <= plugins, problems
