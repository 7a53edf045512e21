"""redis: one CLIENT span per command, pipeline or transaction, for every client.

redis-py's clients are plain Python classes, so on import of redis.client (and of
redis.asyncio.client) the hook wraps `execute_command` and the pipeline's `execute` and
`immediate_execute_command` in place: clients made anywhere (redis.Redis(...), from_url, a
library's own) are covered, and queued pipeline commands give no span of their own. Nothing the
application sends is recorded: db.query.text is the command name with one `?` per argument, so
keys, values and AUTH credentials never leave the process.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

from .. import dbapi

LIBRARY = "redis"
SYSTEM = "redis"
DEFAULT_PORT = 6379
MAX_LISTED = 64
"""db.query.text lists at most this many arguments of a command, and commands of a pipeline."""


def instrument_client(module: ModuleType) -> None:
    """After `import redis.client`: Redis and Pipeline trace their commands."""
    _instrument(module.Redis, module.Pipeline)


def instrument_async_client(module: ModuleType) -> None:
    """After `import redis.asyncio.client`: the asyncio Redis and Pipeline, likewise."""
    _instrument(module.Redis, module.Pipeline)


def _instrument(client: type, pipeline: type) -> None:
    dbapi.patch_method(client, "execute_command", _command, LIBRARY)
    dbapi.patch_method(pipeline, "immediate_execute_command", _command, LIBRARY)
    dbapi.patch_method(pipeline, "execute", _pipeline, LIBRARY)


def _command(client: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> dbapi.Operation:
    name = _name(args[0])
    attributes = {"db.system.name": SYSTEM, "db.operation.name": name,
                  "db.query.text": _text(name, len(args) - 1), **_server(client)}
    return dbapi.Operation(LIBRARY, name, attributes, _status)


def _pipeline(pipeline: Any, args: tuple[Any, ...],
              kwargs: dict[str, Any]) -> dbapi.Operation | None:
    """MULTI (a transaction) or PIPELINE, `MULTI SET` when every command is a SET."""
    stack = pipeline.command_stack
    if not stack and not pipeline.watching:
        return None  # redis-py sends nothing
    state = vars(pipeline)  # `transaction` is also a method of the asyncio client
    transaction = state.get("is_transaction", state.get("transaction"))
    name = "MULTI" if transaction or state.get("explicit_transaction") else "PIPELINE"
    commands = [(_name(command_args[0]), len(command_args) - 1) for command_args, _ in stack]
    names = {command for command, _ in commands}
    if len(names) == 1:
        name = f"{name} {names.pop()}"
    texts = [_text(command, arguments) for command, arguments in commands]
    if len(texts) > MAX_LISTED:
        texts[MAX_LISTED:] = ["..."]
    attributes: dict[str, Any] = {"db.system.name": SYSTEM, "db.operation.name": name,
                                  "db.query.text": "; ".join(texts), **_server(pipeline)}
    if len(stack) != 1:
        attributes["db.operation.batch.size"] = len(stack)
    return dbapi.Operation(LIBRARY, name, attributes, _status)


def _name(command: Any) -> str:
    if isinstance(command, (bytes, bytearray)):
        command = command.decode("utf-8", "replace")
    return " ".join(str(command).split())


def _text(name: str, arguments: int) -> str:
    """`SET ? ?`: the command as the Redis CLI writes it, every argument a placeholder."""
    placeholders = " ?" * min(arguments, MAX_LISTED)
    return name + placeholders + (" ..." if arguments > MAX_LISTED else "")


def _server(client: Any) -> dict[str, Any]:
    """db.namespace (the database index the client was configured with) and server.*"""
    settings = client.connection_pool.connection_kwargs
    attributes: dict[str, Any] = {"db.namespace": str(settings.get("db", 0))}
    if settings.get("path"):
        attributes["server.address"] = settings["path"]
    elif settings.get("host"):
        attributes["server.address"] = settings["host"]
        attributes["server.port"] = settings.get("port") or DEFAULT_PORT
    return attributes


def _status(error: BaseException) -> str | None:
    """db.response.status_code: the Redis error prefix (ERR, WRONGTYPE...)."""
    code = getattr(error, "status_code", None)
    if isinstance(code, str) and code:
        return code
    first = str(error).split(" ", 1)[0]
    return first if first.isalpha() and first.isupper() else None
