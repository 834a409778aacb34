"""urlscan: urlscan.io lookups, a Python port of Splunk SOAR's urlscan.io connector.

Written for Outpost with the Python SDK (``apps/sdk-python``); the original
(``splunk-soar-connectors/urlscan``, Apache-2.0) is a ``BaseConnector`` over
``requests``. What changed in the port is in ``apps/README.md`` ("Porting a SOAR
connector"). The pure parts (queries, summaries) are tested natively in
``test_app.py``; the actions run offline against ``tests/*.json`` tapes with
``outpost app test --replay``.
"""

import re
from typing import Any, Dict

from outpost_app import Action, ActionResult, Connector, Status, export, http, save_progress

#: urlscan's scan ids are UUIDs.
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def search_query(field: str, value: str) -> str:
    """The urlscan search query for a domain or IP, quoted so that a value cannot widen it."""
    value = value.strip()
    if not value or any(c in value for c in ' "\\()'):
        raise ValueError(f"'{value}' is not a valid {field}")
    return f"{field}:{value}"


def hunt_summary(found: Dict[str, Any]) -> Dict[str, Any]:
    """The summary of a search: how many scans, and the newest one's verdict."""
    results = found.get("results") or []
    summary: Dict[str, Any] = {"total_results": found.get("total", len(results))}
    if results:
        newest = results[0]
        summary["latest_scan"] = newest.get("task", {}).get("time", "")
        summary["latest_url"] = newest.get("page", {}).get("url", "")
    return summary


def report_summary(report: Dict[str, Any]) -> Dict[str, Any]:
    """The summary of a report: the scanned URL and urlscan's overall verdict."""
    overall = report.get("verdicts", {}).get("overall", {})
    return {
        "url": report.get("page", {}).get("url", ""),
        "malicious": bool(overall.get("malicious", False)),
        "score": overall.get("score", 0),
    }


class Urlscan(Connector):
    def handle(self, action: Action, result: ActionResult) -> None:
        config = action.config
        base_url = config["base_url"].rstrip("/")
        headers = {"accept": "application/json"}
        if config.get("api_key"):
            headers["api-key"] = config["api_key"]
        if action.identifier == "test_connectivity":
            save_progress(f"Querying {base_url}")
            response = http.get(f"{base_url}/api/v1/search/?q=domain:urlscan.io&size=1", headers=headers)
            if not response.ok:
                raise ValueError(f"urlscan.io answered {response.status}; check base_url and api_key")
            result.set_status(Status.SUCCESS, "Test connectivity passed")
        elif action.identifier in ("hunt_domain", "hunt_ip"):
            field, parameter = ("domain", "domain") if action.identifier == "hunt_domain" else ("ip", "ip")
            query = search_query(field, action.params[parameter])
            response = http.get(f"{base_url}/api/v1/search/?q={query}", headers=headers)
            if response.status == 429:
                raise ValueError("urlscan.io rate limit reached; try again later")
            if not response.ok:
                raise ValueError(f"urlscan.io answered {response.status} to the search")
            found = response.json()
            result.add_data(found)
            summary = hunt_summary(found)
            result.update_summary(summary)
            result.set_status(Status.SUCCESS, f"Total results: {summary['total_results']}")
        elif action.identifier == "get_report":
            scan_id = action.params["id"].strip().lower()
            if not _UUID.match(scan_id):
                raise ValueError(f"'{scan_id}' is not a urlscan scan id (a UUID)")
            response = http.get(f"{base_url}/api/v1/result/{scan_id}/", headers=headers)
            if response.status == 404:
                raise ValueError(f"no report for {scan_id} (the scan may still be running)")
            if not response.ok:
                raise ValueError(f"urlscan.io answered {response.status} for report {scan_id}")
            report = response.json()
            result.add_data(report)
            summary = report_summary(report)
            result.update_summary(summary)
            verdict = "malicious" if summary["malicious"] else "not malicious"
            result.set_status(Status.SUCCESS, f"Report of {summary['url']}: {verdict}")
        else:
            raise ValueError(f"unknown action '{action.identifier}'")


Handler = export(Urlscan)
