"""The names of the zones and of the scopes their files are sealed for (one definition each).

A scope is who may open a file: a project (its id), the whole zone (SITE_SCOPE), or one
person (their own home page). Which scopes a person has is decided in zones.py alone.
"""

INTERNAL = "internal"
MIXED = "mixed"
ZONES = (INTERNAL, MIXED)
SITE_SCOPE = "_site"
PERSON_SCOPE = "person:"


def person_scope(person_id: str) -> str:
    """The scope of a person's own pages (their home page in the mixed zone)."""
    return PERSON_SCOPE + person_id
