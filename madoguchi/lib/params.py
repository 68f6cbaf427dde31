"""Reading ids from query strings and form fields, where anything may arrive."""

import re

_ID = re.compile(r"[0-9]{1,18}")


def parse_id(text: str) -> int | None:
    """A positive database id written in ASCII digits, or None (not '²', not '１', not 20 digits)."""
    return int(text) if _ID.fullmatch(text) else None
