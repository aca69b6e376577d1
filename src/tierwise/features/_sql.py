"""Safe quoting for names and values that reach SQL.

Column names, event types and attribute names come from users' configs and
data; they are always quoted here, never pasted into a query.
"""


def quote_identifier(name: str) -> str:
    """Quote a name as a SQL identifier (standard double quotes, doubled inside)."""
    return '"' + str(name).replace('"', '""') + '"'


def quote_literal(value: str) -> str:
    """Quote a value as a SQL string literal (single quotes, doubled inside)."""
    return "'" + str(value).replace("'", "''") + "'"
