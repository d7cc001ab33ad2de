"""The API's JSON parser: JSON as DRF reads it, minus the strings PostgreSQL cannot store."""

from typing import Any

from rest_framework.exceptions import ValidationError
from rest_framework.parsers import JSONParser

from crm.text import text_problem


def unstorable_text(value: Any, path: str = "") -> dict[str, str]:
    """{dotted path (lines.3.note): why} for the strings and keys PostgreSQL cannot store."""
    if isinstance(value, str):
        problem = text_problem(value)
        return {path or "body": problem} if problem else {}
    found: dict[str, str] = {}
    if isinstance(value, dict):
        for key, item in value.items():
            where = f"{path}.{key}" if path else str(key)
            problem = text_problem(str(key))
            if problem:
                found[where] = problem
            found.update(unstorable_text(item, where))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found.update(unstorable_text(item, f"{path}.{index}" if path else str(index)))
    return found


class StrictJSONParser(JSONParser):
    """Refuses strings PostgreSQL cannot store anywhere in the body, with a 400 naming each.

    Stored, they would fail as a server error halfway through a write instead of as the
    client's mistake. (The bulk endpoints use DRF's parser: they answer such records one by one.)
    """

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        data = super().parse(stream, media_type, parser_context)
        problems = unstorable_text(data)
        if problems:
            raise ValidationError({path: [why] for path, why in list(problems.items())[:50]})
        return data
