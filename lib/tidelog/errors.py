"""The root of tidelog's own exceptions.

Every error the library raises on purpose derives from :class:`TidelogError`, so programs can
turn any of them into a clear message and an exit code without catching unrelated bugs.
"""


class TidelogError(Exception):
    """Base class for errors tidelog raises deliberately."""
