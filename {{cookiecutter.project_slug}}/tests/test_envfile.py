"""The .env file (envfile.py, the same for every framework): secrets written privately once, rotated safely."""

import stat

from {{ cookiecutter.package_name }} import envfile


def test_ensure_secrets_writes_a_private_file_once(tmp_path):
    env_file = tmp_path / ".env"
    added = envfile.ensure_secrets(env_file)
    assert "SECRET_KEY" in added
    assert stat.S_IMODE(env_file.stat().st_mode) == 0o600
    first = env_file.read_text()
    assert len(envfile.read(env_file)["SECRET_KEY"]) >= envfile.MIN_SECRET_KEY_LENGTH >= 50
    assert envfile.ensure_secrets(env_file) == []
    assert env_file.read_text() == first


def test_ensure_secrets_keeps_existing_lines_and_adds_only_what_is_missing(tmp_path):
    env_file = tmp_path / ".env"
    env_file.write_text("# mine\nDEBUG=true")  # no final newline: the added lines must not join it
    added = envfile.ensure_secrets(env_file)
    assert "SECRET_KEY" in added
    assert env_file.read_text().startswith("# mine\nDEBUG=true\n")
    assert envfile.read(env_file)["DEBUG"] == "true"


def test_rotation_keeps_the_old_key_as_a_fallback(tmp_path):
    env_file = tmp_path / ".env"
    env_file.write_text("# mine\nSECRET_KEY=old\nOTHER=kept\n")
    envfile.rotate_secret(env_file)
    values = envfile.read(env_file)
    assert values["SECRET_KEY"] not in {"", "old"}
    assert values["SECRET_KEY_FALLBACKS"] == "old"
    assert values["OTHER"] == "kept"
    assert "# mine" in env_file.read_text()
    assert stat.S_IMODE(env_file.stat().st_mode) == 0o600


def test_rotation_keeps_only_the_newest_fallbacks(tmp_path):
    env_file = tmp_path / ".env"
    env_file.write_text("SECRET_KEY=first\n")
    keys = ["first"]
    for _ in range(3):
        envfile.rotate_secret(env_file)
        keys.append(envfile.read(env_file)["SECRET_KEY"])
    # The current key, then the previous FALLBACKS_KEPT ones, newest first.
    expected = ",".join(reversed(keys[-1 - envfile.FALLBACKS_KEPT : -1]))
    assert envfile.read(env_file)["SECRET_KEY_FALLBACKS"] == expected


def test_init_config_says_how_to_make_the_server_use_a_rotated_key_and_never_prints_it(tmp_path):
    env_file = tmp_path / ".env"
    first = envfile.init_config(env_file)
    assert "wrote SECRET_KEY" in first
    assert envfile.init_config(env_file) == f"{env_file}: every secret is already set"
    rotated = envfile.init_config(env_file, rotate=True)
    for name in envfile.ROTATED_SECRETS:
        assert f"{name} (rotated" in rotated
    assert envfile.RELOAD_COMMAND and envfile.RELOAD_COMMAND in rotated
    for value in envfile.read(env_file).values():
        assert value not in first + rotated
{% if cookiecutter.extra_secrets.split() %}


def test_the_extra_secrets_are_made_kept_and_rotated_like_the_secret_key(tmp_path):
    """extra_secrets: each gets its own random value once, is never overwritten, and `init-config --rotate` replaces
    it, keeping the previous value in <NAME>_FALLBACKS."""
    env_file = tmp_path / ".env"
    assert envfile.EXTRA_SECRETS and set(envfile.EXTRA_SECRETS) <= set(envfile.secret_generators())
    added = envfile.ensure_secrets(env_file)
    assert set(envfile.EXTRA_SECRETS) <= set(added)
    first = envfile.read(env_file)
    values = [first[name] for name in ("SECRET_KEY", *envfile.EXTRA_SECRETS)]
    assert len(set(values)) == len(values) and all(len(value) >= 64 for value in values)
    assert envfile.ensure_secrets(env_file) == [] and envfile.read(env_file) == first
    message = envfile.init_config(env_file, rotate=True)
    rotated = envfile.read(env_file)
    for name in envfile.EXTRA_SECRETS:
        assert rotated[name] not in {"", first[name]}
        assert rotated[f"{name}_FALLBACKS"] == first[name]
        assert f"{name} (rotated" in message and rotated[name] not in message and first[name] not in message
{% endif %}
{% if cookiecutter.database == "postgresql" %}


def test_database_password_rotation_keeps_the_rest_of_the_url_and_says_what_to_run(tmp_path):
    env_file = tmp_path / ".env"
    envfile.ensure_secrets(env_file)
    before = envfile.read(env_file)
    message = envfile.init_config(env_file, rotate_database_password=True)
    after = envfile.read(env_file)
    assert after["SECRET_KEY"] == before["SECRET_KEY"]
    old_user, _, old_rest = before["DATABASE_URL"].rpartition("@")
    new_user, _, new_rest = after["DATABASE_URL"].rpartition("@")
    assert new_rest == old_rest and new_user.split(":")[:2] == old_user.split(":")[:2] and new_user != old_user
    assert "deploy/install.sh" in message
    assert after["DATABASE_URL"] not in message and before["DATABASE_URL"] not in message
{% endif %}
