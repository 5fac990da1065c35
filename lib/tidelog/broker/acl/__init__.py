"""ACL authorization with Kafka's StandardAuthorizer semantics.

:mod:`.authorizer` decides (pure: ACLs in, allow or deny out), :mod:`.requests` says which
operation on which resource each request needs, :mod:`.changes` turns CreateAcls and
DeleteAcls into metadata records. The handlers are in :mod:`tidelog.broker.handlers.acls`;
:class:`~tidelog.broker.sasl.dispatch.SecureDispatcher` applies the checks.
"""
