"""outpost_app: write Outpost connectors in Python.

The Python twin of the Rust SDK (``apps/sdk``): subclass :class:`Connector`, implement
``handle(action, result)``, and export it once at the bottom of ``app.py``::

    from outpost_app import Action, ActionResult, Connector, Status, export

    class Hello(Connector):
        def handle(self, action: Action, result: ActionResult) -> None:
            if action.identifier == "test_connectivity":
                result.set_status(Status.SUCCESS, "Connectivity test succeeded")
            else:
                raise ValueError(f"unknown action '{action.identifier}'")

    Handler = export(Hello)

An exception raised by ``handle`` makes the result ``failed`` with the exception's
message; data and summary added before it are kept.

Layout:

- :mod:`outpost_app.result`: :class:`ActionResult` and :class:`Status` (pure Python).
- :mod:`outpost_app.http`: a blocking client over ``wasi:http/outgoing-handler``.
- this module: :class:`Action`, :class:`Connector`, :func:`export`, logging,
  :func:`save_progress`, :func:`load_state`, :func:`save_state`.
"""

import json
from typing import Any, Dict

from .result import ActionResult, Status

# The bindings are imported here, while componentize-py snapshots the module at build
# time: an import inside a call would search the filesystem, which the sandbox denies
# (and reports). Natively (unit tests of a connector's pure parts) they do not exist.
try:
    from componentize_py_types import Err as _Err
    from wit_world.imports import host as _host
    from wit_world.imports import types as _types
except ImportError:  # pragma: no cover - only natively
    _Err = _host = _types = None

__all__ = [
    "Action",
    "ActionResult",
    "Connector",
    "Status",
    "export",
    "debug",
    "info",
    "warn",
    "error",
    "save_progress",
    "load_state",
    "save_state",
]


class Action:
    """One parameter set of one action, with the asset and run it belongs to."""

    def __init__(self, request: Any) -> None:
        self._request = request
        params = json.loads(request.parameter)
        if not isinstance(params, dict):
            raise ValueError("the host sent parameters that are not a JSON object")
        self._params: Dict[str, Any] = params

    @property
    def name(self) -> str:
        """The action's name, e.g. ``lookup ip``."""
        return self._request.action

    @property
    def identifier(self) -> str:
        """The action's identifier from the manifest, e.g. ``lookup_ip``: what a
        connector dispatches on."""
        return self._request.identifier

    @property
    def params(self) -> Dict[str, Any]:
        """The parameter object: checked against the manifest, defaults applied, with
        SOAR's ``context`` under ``"context"``."""
        return self._params

    @property
    def config(self) -> Dict[str, Any]:
        """The asset configuration, secrets (``password`` fields) included: never log it."""
        return json.loads(self._request.asset_config)

    @property
    def asset_id(self) -> int:
        return self._request.asset_id

    @property
    def asset_name(self) -> str:
        return self._request.asset_name

    @property
    def container_id(self) -> int:
        return self._request.container_id

    @property
    def action_run_id(self) -> int:
        return self._request.action_run_id

    @property
    def app_run_id(self) -> int:
        return self._request.app_run_id

    @property
    def context(self) -> Dict[str, Any]:
        """SOAR's ``context``: ``guid``, ``artifact_id``, ``parent_action_run``."""
        context = self._request.context
        return {
            "guid": context.guid,
            "artifact_id": context.artifact_id,
            "parent_action_run": list(context.parent_action_run),
        }


class Connector:
    """What a connector implements: one method that handles one parameter set.

    The component is instantiated afresh for every parameter set: keep nothing in
    globals between calls; use :func:`save_state`.
    """

    def handle(self, action: Action, result: ActionResult) -> None:
        raise NotImplementedError("a connector implements handle(action, result)")


def _message(exception: BaseException) -> str:
    text = str(exception)
    return text if text else type(exception).__name__


def _handle(connector: type, request: Any) -> Any:
    result = ActionResult()
    try:
        connector().handle(Action(request), result)
    except Exception as exception:  # the connector's failure: a failed result, not a trap
        result.set_status(Status.FAILED, _message(exception))
    status, message, data, summary = result.parts()
    wit_status = _types.Status.SUCCESS if status is Status.SUCCESS else _types.Status.FAILED
    return _types.ActionResult(wit_status, message, data, summary)


def export(connector: type) -> type:
    """Exports ``connector`` (a :class:`Connector` subclass) as the component's
    ``outpost:connector/handler``: assign the answer to ``Handler`` in ``app.py``.

    The class it answers has the shape of ``wit_world.exports.Handler`` (what
    componentize-py calls) without importing the bindings, so ``app.py`` also imports
    natively, for unit tests of its pure parts."""

    class Handler:
        def handle(self, request: Any) -> Any:
            return _handle(connector, request)

    Handler.__name__ = "Handler"
    return Handler


def _log(level_name: str, message: str) -> None:
    _host.log(getattr(_host.Level, level_name), str(message))


def debug(message: str) -> None:
    """A line in the worker's log (bounded by the host); never log secrets."""
    _log("DEBUG", message)


def info(message: str) -> None:
    _log("INFO", message)


def warn(message: str) -> None:
    _log("WARN", message)


def error(message: str) -> None:
    _log("ERROR", message)


def save_progress(message: str) -> None:
    """SOAR's ``save_progress``: a message clients see while the action runs."""
    _host.save_progress(str(message))


def load_state() -> Dict[str, Any]:
    """SOAR's ``load_state``: this asset's saved state, ``{}`` when none."""
    state = json.loads(_host.load_state())
    return state if isinstance(state, dict) else {}


def save_state(state: Dict[str, Any]) -> None:
    """SOAR's ``save_state``: replaces this asset's state with ``state`` (a dict).
    Raises ``ValueError`` with the host's reason when it refuses it (too large)."""
    if not isinstance(state, dict):
        raise TypeError(f"the state must be a dict (a JSON object), not {type(state).__name__}")
    try:
        _host.save_state(json.dumps(state, separators=(",", ":")))
    except _Err as refused:
        raise ValueError(f"the host refused the state: {refused.value}") from None


