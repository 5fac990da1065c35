"""SASL authentication on the SASL_PLAINTEXT and SASL_SSL listeners.

:mod:`.scram` and :mod:`.plain` are the mechanisms (sans-I/O: bytes in, bytes or an error
out), :mod:`.credentials` turns AlterUserScramCredentials into metadata records, and
:mod:`.dispatch` refuses every request but ApiVersions and the SASL exchange until a
connection has authenticated. The handlers of the four APIs are in
:mod:`tidelog.broker.handlers.sasl`.
"""
