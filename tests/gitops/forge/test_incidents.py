"""gitops.forge.incidents: what a task reports, and its opening through a forge."""
from gitops.forge.incidents import IncidentLog, Incident, decode, encode, open_all, problem, redacted, reported_at
from gitops.forge.local import LocalForge
from gitops.redact import Redactor


def test_the_log_collects_what_a_handler_opens_and_closes_and_writes_nothing():
    log = IncidentLog()
    where = log.open_issue("alert:X:r1", "X: r1", "body", ["incident", "production"])
    log.close_issue("alert:X:r1", "resolved at noon")
    log.close_issue("alert:never:opened", "nothing")
    assert where == reported_at("alert:X:r1")
    assert log.incidents == (Incident("alert:X:r1", "X: r1", "body", ("incident", "production"), "resolved at noon"),)


def test_open_all_opens_then_closes_a_resolved_incident_and_is_idempotent(tmp_path):
    forge = LocalForge(tmp_path)
    incident = Incident("alert:X:r1", "X: r1", "it fires", ("incident",), "resolved at noon")
    first = open_all([incident], forge)
    text = (tmp_path / "issues" / "alert-X-r1.md").read_text()
    assert open_all([incident], forge) == first
    assert forge.issue_state("alert:X:r1") == "closed"
    assert "<!-- gitops:alert:X:r1 -->" in text and text.count("resolved at noon") == 1


def test_incidents_round_trip_and_are_redacted():
    incident = Incident("m", "title s3cret", "body s3cret", ("incident",), "closed s3cret")
    assert decode(encode([incident])) == (incident,)
    clean = redacted([incident], Redactor(("s3cret",)))[0]
    assert "s3cret" not in f"{clean.title}{clean.body}{clean.resolved}"


def test_problem_refuses_what_encode_never_makes():
    good = encode([Incident("m", "t", "b", ("incident",))])
    assert problem(good) is None and problem([]) is None
    assert problem([{**good[0], "extra": 1}]).startswith("an incident is not an object with exactly the keys")
    assert problem(good * 2) == "the incident 'm' is listed twice"
    assert problem([{**good[0], "marker": "x -->"}]).startswith("an incident's marker")
    assert problem([{**good[0], "body": "b" * 20_001}]).startswith("the incident 'm' has no title")
    assert problem([{**good[0], "labels": ["x" * 51]}]).startswith("the incident 'm' has labels")
    assert problem(good * 21) == "incidents is not a list of at most 20"
    assert problem("m") == "incidents is not a list of at most 20"
