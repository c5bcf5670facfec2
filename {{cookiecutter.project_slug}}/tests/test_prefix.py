"""The URL prefix's rules (prefix.py, the same for every framework): its spelling, and the deploy files naming it."""

from pathlib import Path

import pytest

from {{ cookiecutter.package_name }}.prefix import PREFIX_FILES, clean_url_prefix, files_without_prefix, mentions_prefix

PROJECT_ROOT = Path(__file__).resolve().parent.parent


GOOD_PREFIXES = [("", ""), ("/", ""), ("/eegqc", "/eegqc"), ("/lab/tools/", "/lab/tools")]


@pytest.mark.parametrize(("prefix", "cleaned"), GOOD_PREFIXES)
def test_a_good_prefix_loses_its_trailing_slash(prefix, cleaned):
    assert clean_url_prefix(prefix) == cleaned


@pytest.mark.parametrize("prefix", ["eegqc", "/a//b", "/a b"])
def test_a_bad_prefix_is_refused_with_its_name(prefix):
    with pytest.raises(ValueError, match="URL_PREFIX"):
        clean_url_prefix(prefix)


@pytest.mark.parametrize(
    "text",
    [
        "location /eegqc/ { }",  # nginx
        "location = /eegqc {",
        'ProxyPass "/eegqc/" "unix:/run/app.sock|http://localhost/eegqc/"',  # apache
        'raw_env = ["SCRIPT_NAME=/eegqc"]',  # gunicorn
        'SCRIPT_NAME = "/eegqc"',
        "mount = /eegqc=wsgi:application",  # uwsgi
        "route = ^/eegqc$ redirect-permanent:/eegqc/",
    ],
)
def test_the_prefix_is_found_as_a_whole_path(text):
    assert mentions_prefix(text, "/eegqc")


@pytest.mark.parametrize(
    "text",
    [
        "location /eegqcx/ { }",  # a longer segment
        "location /eegqc-old/ { }",
        "location /eegqc.bak/ { }",
        "location /eegqc%20/ { }",
        "location /lab/eegqc/ { }",  # the prefix as the end of another path
        "location /labeegqc/ { }",
        "location / { }",
    ],
)
def test_a_longer_or_other_path_does_not_count(text):
    assert not mentions_prefix(text, "/eegqc")


def test_deploy_files_that_do_not_name_the_prefix_are_listed(tmp_path):
    (tmp_path / "deploy").mkdir()
    (tmp_path / "deploy" / "nginx-shared-site.conf").write_text("location /eegqcx/ { }\n")
    (tmp_path / "deploy" / "uwsgi.ini").write_text("mount = /eegqc=wsgi:application\n")
    assert files_without_prefix(tmp_path, "/eegqc") == ["deploy/nginx-shared-site.conf"]
    assert files_without_prefix(tmp_path, "") == [], "the site root: nothing to compare"


def test_no_deploy_files_no_disagreement(tmp_path):
    assert files_without_prefix(tmp_path, "/eegqc") == []


def test_the_generated_deploy_files_name_the_generated_prefix():
    present = [name for name in PREFIX_FILES if (PROJECT_ROOT / name).exists()]
    assert present, "no deploy file names a prefix"
    assert files_without_prefix(PROJECT_ROOT, "{{ cookiecutter.__url_prefix }}") == []
