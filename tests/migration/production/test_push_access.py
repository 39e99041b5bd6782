"""The deploy key the handler pushes with: a file only its owner reads, used by git's ssh and nothing else."""
from __future__ import annotations

import stat
from pathlib import Path

from migration.production.push_access import git_environment


def test_without_a_key_git_uses_its_own_configuration(tmp_path: Path) -> None:
    assert git_environment({}, tmp_path / "credentials") == {}
    assert not (tmp_path / "credentials").exists()


def test_a_deploy_key_is_written_for_the_owner_only_and_given_to_ssh(tmp_path: Path) -> None:
    env = git_environment({"GITOPS_PRODUCTION_DEPLOY_KEY": "-----BEGIN KEY-----\nabc\n-----END KEY-----"},
                          tmp_path / "credentials")
    key = tmp_path / "credentials" / "production-deploy-key"
    assert env == {"GIT_SSH_COMMAND": f"ssh -i {key} -o IdentitiesOnly=yes"}
    assert key.read_text() == "-----BEGIN KEY-----\nabc\n-----END KEY-----\n"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
