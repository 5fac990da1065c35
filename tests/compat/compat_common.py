"""Settings shared by the compatibility tests."""

#: Records each client produces and consumes (the issue's figure), sent in batches.
RECORDS = 100_000
#: Upper bound of any one wait on a client in these tests, in seconds.
TIMEOUT = 60
