"""What the follower reports, in Prometheus' text format."""
from __future__ import annotations

from migration.production.follower_status import FollowStatus, Outcome, ServingRelease, metrics


def test_the_metrics_name_the_commit_its_outcome_and_the_weights() -> None:
    status = FollowStatus("r", "b", "c2", Outcome.REFUSED, 'bad "file"\nline 2', "c1",
                          (ServingRelease("canary", "candidate", "127.0.0.1:9002", 10),
                           ServingRelease("stable", "production", "127.0.0.1:9001", 90)))
    assert metrics(status).splitlines() == [
        "# HELP gitops_production_commit The followed branch's last commit and what became of it.",
        "# TYPE gitops_production_commit gauge",
        'gitops_production_commit{commit="c2",outcome="refused",reason="bad \\"file\\"\\nline 2"} 1',
        "# HELP gitops_production_applied The commit whose declaration serves now.",
        "# TYPE gitops_production_applied gauge",
        'gitops_production_applied{commit="c1"} 1',
        "# HELP gitops_production_release_weight Each running release's declared weight.",
        "# TYPE gitops_production_release_weight gauge",
        'gitops_production_release_weight{release="canary",environment="candidate",address="127.0.0.1:9002"} 10',
        'gitops_production_release_weight{release="stable",environment="production",address="127.0.0.1:9001"} 90',
    ]


def test_before_the_first_commit_only_the_help_lines() -> None:
    assert [line for line in metrics(FollowStatus("r", "b")).splitlines() if not line.startswith("#")] == []
