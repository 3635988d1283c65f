"""schemathesis against a live server: every operation of ``/api/schema/``, fuzzed, with a real session token.

No answer may be a 5xx, and every answer must conform to the schema: its
status documented, its content type and body as described. The run is
bounded (``MAX_EXAMPLES`` per operation) so it fits in a normal test run.
Path ids are sometimes swapped for the owner's real book, conversion and
bookmark, so the fuzzer reaches past the 404s into the real handlers.
"""

from __future__ import annotations

import itertools
import os
import time
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import GenerationMode, checks

from accounts.tests.conftest import fresh_rate_limits  # noqa: F401
from audiobooks.lexicon.checks import EntryInput
from audiobooks.lexicon.services import lexicon_entry_create
from audiobooks.models import Bookmark
from audiobooks.pipeline import submit
from credits.services import credits_grant_by_system
from tests.apiclient import person_with_app, ready_book, session_token
from tts_engine.registry import DEFAULT_VOICE

MAX_EXAMPLES = 40
# --checks all: every check schemathesis has (conformance, negative data rejected, positive data
# accepted, required headers, unsupported methods, Allow headers, auth not ignored, use after free …).
CHECKS = list(checks.CHECKS.get_all())


@pytest.fixture
def owner_world(live_server: Any, transactional_db: None, tmp_path: Any, settings: Any) -> dict[str, Any]:
    settings.CREDITS_RATE_LIMITS = {
        "upload": "100000/h",
        "conversion": "100000/h",
        "text_preview": "100000/h",
    }
    user, _ = person_with_app("fuzz@example.com")
    credits_grant_by_system(user=user, hundredths=5000, reason="fuzzing")
    book = ready_book(user, tmp_path)
    conversion = submit.conversion_submit(
        user=user, book_uuid=book.uuid, chapter_indexes=[0], voice_key=DEFAULT_VOICE, speed=1.0
    )
    bookmark = Bookmark.objects.create(book=book, chapter=1, position_ms=0)
    entry = lexicon_entry_create(user=user, book_uuid=None, entry=EntryInput("Holmes", respelling="Homes"))
    return {
        "token": session_token("fuzz@example.com"),
        "ids": {
            "book_uuid": book.uuid,
            "conversion_uuid": conversion.uuid,
            "bookmark_uuid": bookmark.uuid,
            "entry_uuid": entry.uuid,
        },
    }


def test_the_api_answers_every_generated_request_as_its_schema_says(
    live_server: Any, owner_world: dict[str, Any]
) -> None:
    # schemathesis.pytest.from_fixture does not run on pytest 9 (it reads Function._nodeid),
    # so the operations are walked here, each with its own bounded Hypothesis run.
    schema = schemathesis.openapi.from_url(f"{live_server.url}/api/schema/?format=json")
    real = owner_world["ids"]

    @schema.hook
    def map_path_parameters(context: Any, path_parameters: dict[str, Any] | None) -> Any:
        if not path_parameters:
            return path_parameters
        # Half the generated ids (by their first hex digit) become the owner's real objects.
        for name, value in list(path_parameters.items()):
            if name in real and str(value)[:1] in "01234567":
                path_parameters[name] = real[name]
        return path_parameters

    headers = {"X-Session-Token": owner_world["token"]}
    calls: dict[str, int] = {}
    sent = dict.fromkeys(GenerationMode, 0)
    failures: dict[str, str] = {}

    def fuzz(operation: Any, mode: GenerationMode) -> None:
        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(
            max_examples=MAX_EXAMPLES,
            deadline=None,
            derandomize=True,
            database=None,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        def run(case: Any) -> None:
            calls[operation.label] = calls.get(operation.label, 0) + 1
            sent[mode] += 1
            case.call_and_validate(headers=headers, checks=CHECKS)

        try:
            run()
        except BaseException as failure:  # reported below, with every other operation's
            if isinstance(failure, KeyboardInterrupt | SystemExit):
                raise
            failures[f"{operation.label} ({mode.value})"] = str(failure)[:3000]

    started = time.monotonic()
    operations = [result.ok() for result in schema.get_all_operations()]  # type: ignore[union-attr]
    only = os.environ.get("FUZZ_ONLY")  # e.g. "lexicon": while working on one part of the API
    if only:
        operations = [operation for operation in operations if only in operation.label]
    for operation, mode in itertools.product(operations, GenerationMode):
        fuzz(operation, mode)

    print(
        f"schemathesis: {len(calls)} operations, {sent[GenerationMode.POSITIVE]} valid and "
        f"{sent[GenerationMode.NEGATIVE]} invalid requests in {time.monotonic() - started:.1f} s"
    )
    assert len(calls) >= (1 if only else 20), (calls, failures)
    assert not failures, "\n\n".join(f"{label}:\n{text}" for label, text in failures.items())


# The edges the security run's coverage phase found the schema silent on: an empty filter, NUL in
# a query or a JSON string, a body that is not JSON. Each answer must be one the schema documents.
EDGE_VALUES = ["", "\x00", "a\x00b", "\u00b2", "9" * 30]


def test_edge_values_in_every_query_and_body_field_are_answered_as_the_schema_says(
    live_server: Any, owner_world: dict[str, Any]
) -> None:
    schema = schemathesis.openapi.from_url(f"{live_server.url}/api/schema/?format=json")
    headers = {"X-Session-Token": owner_world["token"]}
    real = owner_world["ids"]
    conformance = [
        checks.not_a_server_error,
        checks.status_code_conformance,
        checks.content_type_conformance,
        checks.response_schema_conformance,
    ]
    sent = 0
    failures: list[str] = []
    for result in schema.get_all_operations():
        operation = result.ok()  # type: ignore[union-attr]
        path_parameters = {p.name: real[p.name] for p in operation.path_parameters if p.name in real}
        if len(path_parameters) != len(operation.path_parameters):
            continue
        query_names = [p.name for p in operation.query]
        body = operation.body[0] if operation.body else None
        body_names = list((body.definition.get("schema") or {}).get("properties", {})) if body else []
        for value in EDGE_VALUES:
            cases = [
                operation.Case(path_parameters=path_parameters, query={name: value}) for name in query_names
            ]
            if body is not None and body.media_type == "application/json":
                cases += [
                    operation.Case(
                        path_parameters=path_parameters, body={name: value}, media_type=body.media_type
                    )
                    for name in body_names
                ]
            for case in cases:
                sent += 1
                try:
                    case.call_and_validate(headers=headers, checks=conformance)
                except Exception as failure:  # reported together below
                    failures.append(f"{operation.label} {value!r}: {str(failure)[:600]}")
    print(f"schemathesis edges: {sent} requests, {len(failures)} failures")
    assert sent >= 50
    assert not failures, "\n\n".join(failures[:20])
