"""gitops.run.handover: the incidents a task reported travel to the recording job, strictly checked."""
import json

import pytest

from gitops.forge.incidents import Incident
from gitops.run.handover import FINISHED, HandOver, HandOverRefused, read, write

INCIDENT = Incident("alert:X:r1", "X: r1", "it fires", ("incident", "production"), "resolved at noon")


def handover(**changes):
    fields = dict(task="6.2", after_attempt=0, outcome=FINISHED, checks=[], error=None, updates={},
                  mlflow_run_id=None, work={}, run=("7", "1"))
    return HandOver(**{**fields, **changes})


def test_incidents_are_handed_over_and_read_back(tmp_path):
    write(tmp_path / "h.json", handover(incidents=(INCIDENT,)))
    assert read(tmp_path / "h.json", "6.2").incidents == (INCIDENT,)


def test_a_hand_over_without_incidents_reads_as_before(tmp_path):
    write(tmp_path / "h.json", handover())
    assert "incidents" not in json.loads((tmp_path / "h.json").read_text())
    assert read(tmp_path / "h.json", "6.2").incidents == ()


@pytest.mark.parametrize("incidents, why", [
    ("an issue", "incidents is not a list of at most 20"),
    ([{"marker": "m"}], "an incident is not an object with exactly the keys body, labels, marker, resolved, title"),
    ([{"marker": "m", "title": "t", "body": "b" * 20_001, "labels": [], "resolved": None}],
     "the incident 'm' has no title (at most 256 characters), body or resolved comment (text of at most 20000, "
     "resolved may be null)"),
])
def test_malformed_incidents_are_refused(tmp_path, incidents, why):
    write(tmp_path / "h.json", handover())
    document = json.loads((tmp_path / "h.json").read_text())
    (tmp_path / "h.json").write_text(json.dumps({**document, "incidents": incidents}))
    with pytest.raises(HandOverRefused) as refused:
        read(tmp_path / "h.json", "6.2")
    assert str(refused.value) == f"the result handed over for Task 6.2 was refused: {why}"
