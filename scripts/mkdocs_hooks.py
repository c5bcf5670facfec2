"""MkDocs hook (mkdocs.yml `hooks:`): the pages name the template's published location as TEMPLATE_TOKEN, and the
site shows the one value mkdocs.yml gives it, `repo_url` (the git URL cookiecutter, copier and cruft take). A clone's
path works the same in every command; tests/test_docs_commands.py runs the getting-started page with one."""

TEMPLATE_TOKEN = "{{ template }}"


def template_location(config) -> str:
    return config["repo_url"].rstrip("/") + ".git"


def on_page_markdown(markdown, page, config, files):
    return markdown.replace(TEMPLATE_TOKEN, template_location(config))
