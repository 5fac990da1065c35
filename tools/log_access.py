"""log-access: ACLs, SCRAM users and client quotas (Kafka's kafka-acls and kafka-configs for
users and quotas).

The command line and its help live here; the work is in :mod:`tidelog.cli.clients.access`
(see man/log-access.1 for the output formats, the JSON schema and the exit status table).
ACTION is a positional choice, as in log-topics, so the shared option introspection sees
every option.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Annotated

import typer
from tidelog.cli import options
from tidelog.cli.actions import Action as ActionHelp
from tidelog.cli.app import make_app, run_app
from tidelog.cli.runner import Program, run_program

NAME = "log-access"


class Action(StrEnum):
    acls = "acls"
    allow = "allow"
    deny = "deny"
    revoke = "revoke"
    users = "users"
    set_user = "set-user"
    delete_user = "delete-user"
    quotas = "quotas"
    set_quota = "set-quota"
    delete_quota = "delete-quota"


app = make_app("Manage ACLs, SCRAM users and client quotas.")


@app.command()
def access(
    action: Annotated[
        Action, typer.Argument(metavar="ACTION",
                               help="acls, allow, deny, revoke, users, set-user, delete-user, "
                               "quotas, set-quota or delete-quota ('log-access ACTION --help' "
                               "for one action's options).", show_default=False),
    ],
    name: Annotated[
        str | None,
        typer.Argument(metavar="NAME", help="set-user, delete-user: the user (users: only it).",
                       show_default=False),
    ] = None,
    bootstrap: options.Bootstrap = options.DEFAULT_BOOTSTRAP,
    principal: Annotated[
        list[str] | None,
        typer.Option("--principal", metavar="TYPE:NAME", show_default=False,
                     help="ACLs: the principal, e.g. User:alice or User:* (repeatable)."),
    ] = None,
    host: Annotated[
        list[str] | None,
        typer.Option("--host", metavar="HOST", show_default=False,
                     help="ACLs: the client address the ACL applies to (default * on allow "
                     "and deny, any on the others; repeatable)."),
    ] = None,
    operation: Annotated[
        list[str] | None,
        typer.Option("--operation", metavar="OPERATION", show_default=False,
                     help="ACLs: read, write, create, delete, alter, describe, "
                     "cluster-action, describe-configs, alter-configs, idempotent-write or "
                     "all (repeatable; Kafka's Read, ClusterAction spellings too)."),
    ] = None,
    topic: Annotated[
        str | None, typer.Option("--topic", metavar="TOPIC", show_default=False,
                                 help="ACLs: the topic resource (* for every topic)."),
    ] = None,
    group: Annotated[
        str | None, typer.Option("--group", metavar="GROUP", show_default=False,
                                 help="ACLs: the consumer group resource."),
    ] = None,
    transactional_id: Annotated[
        str | None, typer.Option("--transactional-id", metavar="ID", show_default=False,
                                 help="ACLs: the transactional id resource."),
    ] = None,
    cluster: Annotated[
        bool, typer.Option("--cluster", help="ACLs: the cluster resource."),
    ] = False,
    prefixed: Annotated[
        bool, typer.Option("--prefixed", help="ACLs: the resource name is a prefix (allow, "
                           "deny); select prefixed ACLs only (acls, revoke)."),
    ] = False,
    mechanism: Annotated[
        str | None, typer.Option("--mechanism", metavar="MECHANISM", show_default=False,
                                 help="set-user: SCRAM-SHA-256 or SCRAM-SHA-512 (default); "
                                 "delete-user: only this one."),
    ] = None,
    iterations: Annotated[
        int, typer.Option("--iterations", metavar="N",
                          help="set-user: SCRAM iterations, 4096 to 16384."),
    ] = 4096,
    user: Annotated[
        str | None, typer.Option("--user", metavar="USER", show_default=False,
                                 help="Quotas: the user entity."),
    ] = None,
    user_default: Annotated[
        bool, typer.Option("--user-default", help="Quotas: the default user entity."),
    ] = False,
    client_id: Annotated[
        str | None, typer.Option("--client-id", metavar="ID", show_default=False,
                                 help="Quotas: the client id entity."),
    ] = None,
    client_default: Annotated[
        bool, typer.Option("--client-default", help="Quotas: the default client id entity."),
    ] = False,
    producer_byte_rate: Annotated[
        int | None, typer.Option("--producer-byte-rate", metavar="BYTES", min=1,
                                 show_default=False,
                                 help="set-quota: Produce bytes per second."),
    ] = None,
    consumer_byte_rate: Annotated[
        int | None, typer.Option("--consumer-byte-rate", metavar="BYTES", min=1,
                                 show_default=False,
                                 help="set-quota: Fetch bytes per second."),
    ] = None,
    request_percentage: Annotated[
        float | None, typer.Option("--request-percentage", metavar="PERCENT", min=0.001,
                                   show_default=False,
                                   help="set-quota: broker time in percent of one core."),
    ] = None,
    key: Annotated[
        list[str] | None,
        typer.Option("--key", metavar="KEY", show_default=False,
                     help="delete-quota: producer_byte_rate, consumer_byte_rate or "
                     "request_percentage (repeatable; default: every quota of the entity)."),
    ] = None,
    timeout: options.Timeout = 30.0,
    json: options.Json = False,
    quiet: options.Quiet = False,
    verbose: options.Verbose = 0,
) -> None:
    """Manage ACLs (acls, allow, deny, revoke), SCRAM users (users, set-user, delete-user)
    and client quotas (quotas, set-quota, delete-quota).

    Exit status: 0 ok, 1 error (broker unreachable or refused), 2 usage error, 5 the user or
    quota to delete does not exist, 130 interrupted (the table of every program: tidelog(7)).
    """

    def body(prog: Program) -> int:
        from tidelog.cli.clients.access import AccessSettings
        from tidelog.cli.clients.access import access as run

        rates = {"producer_byte_rate": producer_byte_rate,
                 "consumer_byte_rate": consumer_byte_rate,
                 "request_percentage": request_percentage}
        settings = AccessSettings(
            bootstrap=bootstrap, action=action.value, name=name,
            principals=list(principal or []), hosts=list(host or []),
            operations=[_operation(o) for o in operation or []], topic=topic, group=group,
            transactional_id=transactional_id, cluster=cluster, prefixed=prefixed,
            mechanism=mechanism.upper() if mechanism else None, iterations=iterations,
            user=user, user_default=user_default, client_id=client_id,
            client_default=client_default,
            quotas={k: float(v) for k, v in rates.items() if v is not None},
            keys=list(key or []), json=json, timeout=timeout,
        )
        return run(prog, settings)

    run_program(NAME, body, quiet=quiet, verbose=verbose)


def _operation(text: str) -> str:
    """Kafka's spellings (Read, ClusterAction, CLUSTER_ACTION) as log-access's."""
    dashed = re.sub(r"(?<=[a-z])(?=[A-Z])", "-", text.strip())
    return dashed.replace("_", "-").lower()


_ACL_FILTERS = ("principal", "host", "operation", "topic", "group", "transactional_id",
                "cluster", "prefixed")
_ENTITY = ("user", "user_default", "client_id", "client_default")
ACTIONS = {
    "acls": ActionHelp("", "List the ACLs the filters select (every ACL without filters).",
                       _ACL_FILTERS),
    "allow": ActionHelp("", "Add an ALLOW ACL per --principal, --host and --operation on "
                        "the resource.", _ACL_FILTERS),
    "deny": ActionHelp("", "Add a DENY ACL per --principal, --host and --operation on the "
                       "resource.", _ACL_FILTERS),
    "revoke": ActionHelp("", "Remove the ACLs the filters select and print them.",
                         _ACL_FILTERS),
    "users": ActionHelp("[NAME]", "List the SCRAM credentials: user, mechanism, iterations.",
                        ()),
    "set-user": ActionHelp("NAME", "Make or replace NAME's SCRAM credential; the password is "
                           "read from standard input.", ("mechanism", "iterations")),
    "delete-user": ActionHelp("NAME", "Remove NAME's SCRAM credentials.", ("mechanism",)),
    "quotas": ActionHelp("", "List the client quotas (of the entity named, or every one).",
                         _ENTITY),
    "set-quota": ActionHelp("", "Set quotas of an entity.", (
        *_ENTITY, "producer_byte_rate", "consumer_byte_rate", "request_percentage")),
    "delete-quota": ActionHelp("", "Remove quotas of an entity.", (*_ENTITY, "key")),
}


def main() -> None:
    """Console-script entry point, with per-action help."""
    from tidelog.cli.kafka_flags import Spellings

    run_app(app, NAME, actions=ACTIONS, rewrite=Spellings().rewrite, hints={
        "--add": "log-access allow --principal User:alice --operation read --topic T",
        "--remove": "log-access revoke --principal User:alice --topic T",
        "--list": "log-access acls",
        "--allow-principal": "log-access allow --principal TYPE:NAME ...",
        "--deny-principal": "log-access deny --principal TYPE:NAME ...",
        "--entity-type": "log-access quotas/set-quota --user U --client-id C, "
                         "log-access set-user NAME",
    })


if __name__ == "__main__":
    main()
