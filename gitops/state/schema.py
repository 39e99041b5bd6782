"""The state.json schema (version 1) and its checker: the first problem in a document, and where.

`state.schema.json` (next to this file, shipped as package data) *is* the definition: editors
and `check-jsonschema` read it too. `find_problem` checks that a document is strict JSON that
`json.dumps` can write back (`gitops.state.strict_json`), then validates it with jsonschema
and turns the first error into a `Problem`, the words state.json messages are built from.
"""
from __future__ import annotations

import functools
import json
import marshal
from itertools import compress, filterfalse, repeat
from operator import is_not
from typing import TYPE_CHECKING, Any, Mapping

from gitops.state.frozen import is_frozen, thaw
from gitops.state.problem import Problem, child, key_path, show
from gitops.state.records import changed_since
from gitops.state.strict_json import find_unwritable

if TYPE_CHECKING:
    from jsonschema.exceptions import ValidationError
    from jsonschema.protocols import Validator

SCHEMA_VERSION = 1  # the schema's schema_version maximum; tests check that they agree
SCHEMA_FILE = "state.schema.json"

# "expected ..." words for each JSON type, in the schema's order ("a string or null").
_TYPE_NAMES = {
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "true or false",
    "object": "an object",
    "array": "a list",
    "null": "null",
}


@functools.cache
def schema() -> Mapping[str, Any]:
    """state.schema.json, parsed (read once per process)."""
    from importlib import resources  # ~7 ms (pathlib, zipfile): only when a state is validated

    text = resources.files("gitops.state").joinpath(SCHEMA_FILE).read_text(encoding="utf-8")
    return json.loads(text)


def _strict_integer(checker: object, instance: object) -> bool:
    # JSON Schema counts 1.0 as an integer (https://json-schema.org/draft/2020-12/json-schema-validation#section-6.1.1),
    # and so does jsonschema's Draft 2020-12 type checker. gitops counts with Python ints
    # (`attempts + 1`) and always accepted only 1, never 1.0: the one place where it is
    # stricter than the published schema (docs/state.md).
    return isinstance(instance, int) and not isinstance(instance, bool)


@functools.cache
def _validator() -> Validator:
    """The compiled validator, built on first use."""
    # Imported here: jsonschema (with referencing and attrs) takes tens of ms to import, and
    # `gitops lint` and `gitops status` before the first run never validate a state.
    from jsonschema import Draft202012Validator, validators

    # A validator class with another type checker is how jsonschema customises types:
    # https://python-jsonschema.readthedocs.io/en/stable/validate/#validating-with-additional-types
    type_checker = Draft202012Validator.TYPE_CHECKER.redefine("integer", _strict_integer)
    strict = validators.extend(Draft202012Validator, type_checker=type_checker)
    return strict(schema())


def _expected(subschema: Mapping[str, Any]) -> str:
    """`an integer >= 0`, `a string or null`: what a subschema's type and minimum accept."""
    types = subschema.get("type", [])
    names = [_TYPE_NAMES.get(name, name) for name in ([types] if isinstance(types, str) else types)]
    if "minimum" in subschema and "an integer" in names:
        names[names.index("an integer")] = f"an integer >= {subschema['minimum']}"
    return " or ".join(names)


def _problem(error: ValidationError) -> Problem:
    where = key_path(error.absolute_path)
    if error.validator == "required":
        # One error per missing key, in the schema's order; this is the first of them.
        missing = next((key for key in error.validator_value if key not in error.instance), None)
        if missing is not None:
            return Problem(child(where, missing), "", kind="missing")
    if error.validator == "enum":
        return Problem(where, f"{show(error.instance)} is not one of {', '.join(map(str, error.validator_value))}")
    if error.validator in ("type", "minimum", "maximum"):
        return Problem(where, f"expected {_expected(error.schema)}, got {show(error.instance)}")
    return Problem(where, error.message)  # a keyword these words do not cover yet: jsonschema's own


# The maps that grow with the task list. An entry is valid or not on its own (the schema has no
# rule across entries), so next to a document known to be valid only the changed entries need
# the validator: a transition checks one task record, not all of them, and costs the same on a
# list of 10 tasks or 10,000 (jsonschema spends ~0.5 ms per task record).
_GROWING = ("tasks", "gates")
# The derived lists of task ids grow too; an id is valid or not on its own, so only ids that the
# valid document did not hold are checked again.
_GROWING_LISTS = ("completed_tasks", "blocked_tasks")


def find_problem(data: object, known_valid: Mapping[str, Any] | None = None) -> Problem | None:
    """The first schema problem in a state document, or None when it is valid.

    `known_valid`: a document already found valid (the state before a change); entries of the
    growing maps that are equal in both are not checked again.
    """
    if known_valid is not None and isinstance(data, dict):
        data = _changed_entries(data, known_valid)
    if not isinstance(data, dict):
        return Problem("", f"expected a JSON object at the top level, got {show(data)}")
    version = data.get("schema_version")
    if isinstance(version, int) and not isinstance(version, bool) and version > SCHEMA_VERSION:
        # Before anything else: a newer layout may differ anywhere, and upgrading is the fix.
        text = f"schema_version {version} is newer than this gitops understands ({SCHEMA_VERSION})"
        return Problem("schema_version", text, kind="newer")
    unwritable = find_unwritable(data)
    if unwritable:
        return unwritable
    # The first error jsonschema yields, not best_match(): iter_errors is lazy and walks the
    # schema in its written order (type, required, then properties as listed; maps and lists
    # in the document's order), so this is the first problem in that order, as before and
    # the same on every run. best_match ranks by a heuristic its docs say "may change ...
    # from version to version":
    # https://python-jsonschema.readthedocs.io/en/stable/api/jsonschema/exceptions/#jsonschema.exceptions.best_match
    # (Maps are "patternProperties": {"": ...} in the schema, not "additionalProperties":
    # jsonschema walks the latter through a set, in an order that changes between runs.)
    error = next(_validator().iter_errors(data), None)
    return None if error is None else _problem(error)


def _changed_entries(data: dict, known_valid: Mapping[str, Any]) -> dict:
    """`data` with each growing map cut to the entries that differ from `known_valid`'s."""
    reduced = dict(data)
    for key in _GROWING:
        entries, before = data.get(key), known_valid.get(key)
        if isinstance(entries, dict) and isinstance(before, dict):
            # Only the entries set since `known_valid` (gitops.state.records), in a fixed order so the
            # first problem is the same on every run; else the entries that are not the very objects
            # found valid, found in C (map, compress): a transition shares all but one or two of them
            # (state.frozen says why that is safe).
            named = changed_since(entries, before)
            others = (sorted(name for name in named if name in entries) if named is not None else
                      compress(entries, map(is_not, map(before.get, entries, repeat(_ABSENT)), entries.values())))
            reduced[key] = {name: entries[name] for name in others if not _same(before.get(name, _ABSENT), entries[name])}
    for key in _GROWING_LISTS:
        items, before = data.get(key), known_valid.get(key)
        if isinstance(items, list) and isinstance(before, list):
            reduced[key] = _new_ids(items, before)
    return reduced


def _new_ids(items: list, before: list) -> list:
    """The items of `items` that are not ids `before` holds: those are checked again."""
    # The usual case: a list that kept its beginning (a task completed). `before` was found valid,
    # so its items are strings, and a string equals nothing but an equal string: == is exact.
    if len(items) >= len(before) and items[:len(before)] == before:
        return items[len(before):]
    if set(map(type, items)) <= {str} and set(map(type, before)) <= {str}:
        return list(filterfalse(set(before).__contains__, items))  # in C: the usual case
    seen = {item for item in before if isinstance(item, str)}
    return [item for item in items if not (isinstance(item, str) and item in seen)]


_ABSENT = object()


def _same(known: object, value: object) -> bool:
    """Equal and of the same types all the way down. Python's == is not enough: `0 == False` and
    `1 == 1.0`, and an `attempts: false` next to a valid `attempts: 0` would go unchecked.
    marshal's bytes tell types apart (and differ with key order: then the entry is checked).
    A frozen record that is the very object found valid cannot have changed since."""
    if known is value:
        return True
    try:
        # marshal takes exact dicts and lists: a frozen record (state.frozen) is thawed first.
        return marshal.dumps(_plain(known)) == marshal.dumps(_plain(value))
    except ValueError:  # not marshallable: not plain JSON values, so checked
        return False


def _plain(value: object) -> object:
    return thaw(value) if is_frozen(value) else value

