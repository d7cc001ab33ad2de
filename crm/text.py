"""Text PostgreSQL cannot store: one check for the API's parser and the bulk ingest."""


def text_problem(value: str) -> str | None:
    """Why PostgreSQL would refuse this text (NUL characters, unpaired surrogates), if it would."""
    if value.isascii():
        return "Remove the NUL characters (\\u0000)." if "\x00" in value else None
    try:
        value.encode()
    except UnicodeEncodeError:
        return "This is not valid Unicode text (unpaired surrogates)."
    return "Remove the NUL characters (\\u0000)." if "\x00" in value else None
