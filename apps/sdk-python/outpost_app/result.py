"""SOAR's ActionResult for one parameter set, built up by the connector.

Pure Python: no host calls, so it is tested natively (``python3 -m unittest`` in
``apps/sdk-python``).
"""

import enum
import json
from typing import Any, Dict, List, Optional


class Status(enum.Enum):
    """How a parameter set ended."""

    SUCCESS = "success"
    FAILED = "failed"


class ActionResult:
    """Status, message, data items and summary, as SOAR's ``ActionResult`` has them.

    A handler that returns without calling :meth:`set_status` succeeded.
    """

    def __init__(self) -> None:
        self._status: Optional[Status] = None
        self._message = ""
        self._data: List[str] = []
        self._summary: Dict[str, Any] = {}

    def add_data(self, item: Dict[str, Any]) -> None:
        """SOAR's ``add_data``: appends one data item, a dict (a JSON object)."""
        if not isinstance(item, dict):
            raise TypeError(f"a data item must be a dict (a JSON object), not {type(item).__name__}")
        self._data.append(json.dumps(item, separators=(",", ":")))

    def update_summary(self, summary: Dict[str, Any]) -> None:
        """SOAR's ``update_summary``: merges the keys of ``summary`` into the summary."""
        if not isinstance(summary, dict):
            raise TypeError(f"the summary must be a dict (a JSON object), not {type(summary).__name__}")
        json.dumps(summary)  # refuse what cannot cross the boundary now, not at the end
        self._summary.update(summary)

    def set_status(self, status: Status, message: str = "") -> None:
        """SOAR's ``set_status``, with the one-line message clients see."""
        if not isinstance(status, Status):
            raise TypeError(f"status must be Status.SUCCESS or Status.FAILED, not {status!r}")
        self._status = status
        self._message = str(message)

    @property
    def status(self) -> Optional[Status]:
        """The status set so far, ``None`` while the handler has set none."""
        return self._status

    @property
    def message(self) -> str:
        return self._message

    @property
    def data(self) -> List[Dict[str, Any]]:
        """The data items added so far."""
        return [json.loads(item) for item in self._data]

    @property
    def summary(self) -> Dict[str, Any]:
        return dict(self._summary)

    def parts(self):
        """(status, message, data as JSON texts, summary as JSON text), as the WIT
        ``action-result`` carries them; no status set means success."""
        status = self._status or Status.SUCCESS
        return status, self._message, list(self._data), json.dumps(self._summary, separators=(",", ":"))
