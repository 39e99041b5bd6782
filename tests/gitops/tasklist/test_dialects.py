"""The dialect fixtures of issue 13 (): each one family of task lists people
write, and the exact task graph it must give. One tuple per task:
(id, title, phase, status mark, dependencies waited on, (kind, text) recorded and not waited on,
steps, (Done-when criterion, checked), (further criterion kind, text))."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from gitops.tasklist.lint import lint
from gitops.tasklist.parser import parse

DATA = Path(__file__).parents[2] / "data" / "dialects"


@dataclass(frozen=True)
class Graph:
    phases: list[tuple[int, str, tuple[str, ...]]]
    tasks: list[tuple[object, ...]]
    lint: list[tuple[int, str, str]]


EXPECTED = {
    # Bold headings with a status after them, `**Name:**` fields, `T-1` ids referred to as `T1–T2`.
    'bold_headings_mixed_references.md': Graph(
        phases=[
            (1, 'Schema (P0)', ('T-1', 'T-2')),
            (2, 'API', ('T3',)),
        ],
        tasks=[
            ('T-1', 'Add tables', 1, 'x', (), (), (), (('Tables exist', True), ('Migration reversible', True)), ()),
            ('T-2', 'Backfill', 1, '-', ('T-1',), (), (), (('Old rows copied', False),), ()),
            ('T3',
             'Payments endpoint',
             2,
             ' ',
             ('T-1', 'T-2'),
             (('phase', 'Phase 1 completion'),),
             ('Add the route', 'Validate input'),
             (),
             (('testing_requirements', 'Contract tests'), ('quality_gates', 'p95 < 100 ms'))),
        ],
        lint=[
            (26,
             'warning',
             'Task T3 has no **Done when** criteria (its Quality Gates, Testing Requirements are shown, not '
             'checked): it runs as manual, a person signs it off at its checkpoint; add `**Done when**:` (or '
             '**Acceptance Criteria**:) followed by `- [ ]` items to have it checked'),
        ],
    ),
    # A numbered list of tasks under `## Tasks`, no Phase or Task heading at all.
    'numbered_list_tasks.md': Graph(
        phases=[
            (1, 'Phase 1', ('1', '2', '3')),
        ],
        tasks=[
            ('1', 'Freeze the branch', 1, ' ', (), (), (), (), ()),
            ('2', 'Build the release', 1, ' ', ('1',), (), (), (('Artifacts uploaded', False),), ()),
            ('3', 'Announce', 1, ' ', ('2',), (), (), (), ()),
        ],
        lint=[
            (5,
             'warning',
             'Task 1 is not under a Phase heading and is read as part of Phase 1; add a `Phase 1: Title` heading '
             'above it'),
            (5,
             'warning',
             'Task 1 has no **Done when** criteria: it runs as manual, a person signs it off at its checkpoint; '
             'add `**Done when**:` (or **Acceptance Criteria**:) followed by `- [ ]` items to have it checked'),
            (8,
             'warning',
             'Task 3 has no **Done when** criteria: it runs as manual, a person signs it off at its checkpoint; '
             'add `**Done when**:` (or **Acceptance Criteria**:) followed by `- [ ]` items to have it checked'),
        ],
    ),
    'description_acceptance.md': Graph(
        phases=[
            (1, 'Foundation (Week 1)', ('1.1', '1.2')),
            (2, 'Query API (Week 2)', ('2.1',)),
        ],
        tasks=[
            ('1.1',
             'Create the index schema',
             1,
             'x',
             (),
             (),
             ('Define the index mapping for documents and write the migration that creates it.',),
             (('The mapping covers every document field', True), ('The migration creates the index', True)),
             (('testing_requirements', 'Unit tests for the mapping'), ('quality_gates', 'Lint clean'))),
            ('1.2',
             'Ingest documents',
             1,
             ' ',
             ('1.1',),
             (),
             ('Read documents from the queue and index them in batches.',),
             (('Batching - 500 documents per request', False),
              ('Failed documents go to the dead-letter queue', False)),
             (('testing_requirements', 'Integration test against a local cluster'),)),
            ('2.1',
             'Search endpoint',
             2,
             ' ',
             ('1.2',),
             (('phase', 'Phase 1 completion'),),
             ('Expose /search with paging.',),
             (('/search returns ranked results', False), ('Paging works past 10,000 results', False)),
             (('quality_gates', 'p95 latency under 200 ms'),)),
        ],
        lint=[
        ],
    ),
    'implementation_success.md': Graph(
        phases=[
            (1, 'Backend (P0)', ('1.1', '1.2')),
            (2, 'Frontend (P1)', ('2.1',)),
        ],
        tasks=[
            ('1.1',
             'Export job',
             1,
             ' ',
             (),
             (('backlog', 'B-1006-A completion'),),
             ('Add the job class', 'Schedule it nightly'),
             (('A CSV lands in the bucket every night', False),),
             ()),
            ('1.2',
             'Export API',
             1,
             ' ',
             ('1.1',),
             (),
             ('Add GET /exports',),
             (('The API lists the last 30 exports', False),),
             ()),
            ('2.1',
             'Export page',
             2,
             ' ',
             ('1.1', '1.2'),
             (),
             ('Build the page', 'Link it from settings'),
             (('Users download an export from the page', False),),
             ()),
        ],
        lint=[
        ],
    ),
    'letter_ids.md': Graph(
        phases=[
            (1, 'Accounts', ('A1', 'A2')),
            (2, 'Access', ('T1',)),
        ],
        tasks=[
            ('A1',
             'Create the directory account',
             1,
             ' ',
             (),
             (),
             ('Call the directory API',),
             (('The account exists', False),),
             ()),
            ('A2',
             'Create the mail box',
             1,
             ' ',
             ('A1',),
             (),
             ('Call the mail API',),
             (('The mailbox receives mail', False),),
             ()),
            ('T1',
             'Grant repository access',
             2,
             ' ',
             ('A1', 'A2'),
             (),
             (),
             (('The user can clone the main repository', False),),
             ()),
        ],
        lint=[
        ],
    ),
    'list_item_fields.md': Graph(
        phases=[
            (1, 'Prepare', ('1.1', '1.2')),
        ],
        tasks=[
            ('1.1',
             'Snapshot the database',
             1,
             'x',
             (),
             (),
             ('Take a snapshot', 'Copy it off-site'),
             (('The snapshot is restorable', True),),
             ()),
            ('1.2',
             'Freeze writes',
             1,
             '-',
             ('1.1',),
             (),
             ('Put the app in read-only mode',),
             (('Writes are rejected', False),),
             ()),
        ],
        lint=[
        ],
    ),
    'list_item_tasks.md': Graph(
        phases=[
            (1, 'Cleanup', ('1.1', '1.2', '1.3')),
            (2, 'Release', ('T1', 'T2')),
        ],
        tasks=[
            ('1.1', 'Remove the old feature flags', 1, ' ', (), (), (), (), ()),
            ('1.2', 'Delete unused endpoints', 1, ' ', (), (), (), (), ()),
            ('1.3', 'Update the changelog', 1, ' ', (), (), (), (), ()),
            ('T1', 'Tag the release', 2, ' ', (), (), (), (('The tag is pushed', False),), ()),
            ('T2', 'Announce it', 2, ' ', ('T1',), (), (), (('The announcement is posted', False),), ()),
        ],
        lint=[
            (5,
             'warning',
             'Task 1.1 has no **Done when** criteria: it runs as manual, a person signs it off at its checkpoint; '
             'add `**Done when**:` (or **Acceptance Criteria**:) followed by `- [ ]` items to have it checked'),
            (6,
             'warning',
             'Task 1.2 has no **Done when** criteria: it runs as manual, a person signs it off at its checkpoint; '
             'add `**Done when**:` (or **Acceptance Criteria**:) followed by `- [ ]` items to have it checked'),
            (7,
             'warning',
             'Task 1.3 has no **Done when** criteria: it runs as manual, a person signs it off at its checkpoint; '
             'add `**Done when**:` (or **Acceptance Criteria**:) followed by `- [ ]` items to have it checked'),
        ],
    ),
    'seed_do_done_when.md': Graph(
        phases=[
            (1, 'Environment', ('1.1', '1.2')),
            (2, 'Rollout', ('2.1',)),
        ],
        tasks=[
            ('1.1',
             'Pin the versions',
             1,
             'x',
             (),
             (),
             ('Pin the library in constraints.txt', 'Rebuild the environment'),
             (('The pin is in constraints.txt', True), ('The environment builds', False)),
             ()),
            ('1.2',
             'Smoke test',
             1,
             ' ',
             ('1.1',),
             (),
             ('Run the smoke suite',),
             (('The smoke suite passes', False),),
             ()),
            ('2.1',
             'Deploy',
             2,
             ' ',
             ('1.1', '1.2'),
             (),
             ('Deploy to staging',),
             (('Staging serves the new version', False),),
             ()),
        ],
        lint=[
        ],
    ),
    'subheadings.md': Graph(
        phases=[
            (1, 'Phase 1', ('1', '2', '3')),
        ],
        tasks=[
            ('1',
             'Inventory the pages',
             1,
             ' ',
             (),
             (),
             ('Export the page list', 'Mark pages to drop'),
             (('Every page is listed with an owner', False),),
             ()),
            ('2',
             'Convert the pages',
             1,
             ' ',
             ('1',),
             (),
             ('Run the converter', 'Fix the tables by hand'),
             (('The site builds', False), ('No broken links', False)),
             ()),
            ('3',
             'Switch DNS',
             1,
             ' ',
             ('2',),
             (('text', 'DNS access granted'),),
             (),
             (('docs.example.com serves the new site', False),),
             ()),
        ],
        lint=[
            (5,
             'warning',
             'Task 1 is not under a Phase heading and is read as part of Phase 1; add a `Phase 1: Title` heading '
             'above it'),
            (30,
             'warning',
             "Task 3 depends on 'DNS access granted', which is not a task id: it is shown and not waited on; if it "
             'means a task, write its id (like Task 1.1)'),
        ],
    ),
    't_ids_execution_steps.md': Graph(
        phases=[
            (1, 'Groundwork', ('T-1.1', 'T-1.2')),
            (2, 'Retries', ('T-2.1',)),
        ],
        tasks=[
            ('T-1.1',
             'Add the retry table',
             1,
             ' ',
             (),
             (),
             ('Write the migration', 'Apply it to staging'),
             (),
             (('quality_gates', 'Migration reversible'), ('quality_gates', 'Staging applied'))),
            ('T-1.2',
             'Record failed payments',
             1,
             ' ',
             ('T-1.1',),
             (),
             ('Insert a row per failure',),
             (),
             (('quality_gates', 'Rows appear for failures'),)),
            ('T-2.1',
             'Retry worker',
             2,
             ' ',
             ('T-1.1', 'T-1.2'),
             (('backlog', 'B-2041'),),
             ('Poll the table', 'Retry with backoff'),
             (),
             (('quality_gates', 'Retries back off exponentially'),)),
        ],
        lint=[
            (5,
             'warning',
             'Task T-1.1 has no **Done when** criteria (its Quality Gates are shown, not checked): it runs as '
             'manual, a person signs it off at its checkpoint; add `**Done when**:` (or **Acceptance Criteria**:) '
             'followed by `- [ ]` items to have it checked'),
            (18,
             'warning',
             'Task T-1.2 has no **Done when** criteria (its Quality Gates are shown, not checked): it runs as '
             'manual, a person signs it off at its checkpoint; add `**Done when**:` (or **Acceptance Criteria**:) '
             'followed by `- [ ]` items to have it checked'),
            (33,
             'warning',
             'Task T-2.1 has no **Done when** criteria (its Quality Gates are shown, not checked): it runs as '
             'manual, a person signs it off at its checkpoint; add `**Done when**:` (or **Acceptance Criteria**:) '
             'followed by `- [ ]` items to have it checked'),
        ],
    ),
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_dialect_gives_its_task_graph(name: str) -> None:
    path = DATA / name
    tasklist, diagnostics = parse(path.read_text(encoding="utf-8"), name)
    expected = EXPECTED[name]
    assert [(p.number, p.title, p.task_ids) for p in tasklist.phases] == expected.phases
    assert [(t.id, t.title, t.phase, t.status_mark, t.dependencies,
             tuple((e.kind, e.text) for e in t.external_dependencies), t.do,
             tuple((c.text, c.checked) for c in t.done_when),
             tuple((c.kind, c.text) for c in t.further_criteria)) for t in tasklist.tasks.values()] == expected.tasks
    assert [(d.line, d.severity.value, d.message) for d in lint(tasklist, diagnostics)] == expected.lint


def test_every_fixture_has_an_expected_graph() -> None:
    assert sorted(p.name for p in DATA.glob("*.md")) == sorted(EXPECTED)
