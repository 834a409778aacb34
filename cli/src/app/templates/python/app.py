"""{{name}}: an Outpost connector. ``outpost app new`` wrote this; make it yours.

``test connectivity`` checks the service answers; ``lookup ip`` asks it about an IP
address. Everything the connector does on the network goes through the SDK's
``http``, which the worker allows only to the hosts of the asset's egress (the
manifest's ``"outpost": {"egress": ["{{ base_url }}"]}``).
"""

import ipaddress
from typing import Any, Dict

from outpost_app import Action, ActionResult, Connector, Status, export, http, save_progress


def summary_of(record: Dict[str, Any]) -> Dict[str, Any]:
    """The summary of a record: where the address is. Pure, so it is tested natively."""
    return {key: record.get(key) or "unknown" for key in ("city", "country", "org")}


def get(config: Dict[str, Any], ip: str) -> http.Response:
    headers = {"accept": "application/json"}
    if config.get("token"):
        headers["authorization"] = f"Bearer {config['token']}"
    return http.get(f"{config['base_url'].rstrip('/')}/{ip}/json", headers=headers)


class App(Connector):
    def handle(self, action: Action, result: ActionResult) -> None:
        config = action.config
        if action.identifier == "test_connectivity":
            save_progress(f"Connecting to {config['base_url']}")
            response = get(config, "8.8.8.8")
            if not response.ok:
                raise ValueError(f"the service answered {response.status}; check base_url and token")
            result.set_status(Status.SUCCESS, "Test connectivity passed")
        elif action.identifier == "lookup_ip":
            ip = action.params["ip"]
            try:
                ipaddress.ip_address(ip)
            except ValueError:
                raise ValueError(f"'{ip}' is not a valid IPv4 or IPv6 address") from None
            response = get(config, ip)
            if response.status == 404:
                raise ValueError(f"no record for {ip}")
            if not response.ok:
                raise ValueError(f"the service answered {response.status}")
            record = response.json()
            summary = summary_of(record)
            result.add_data(record)
            result.update_summary(summary)
            result.set_status(Status.SUCCESS, f"IP {ip}: {summary['city']}, {summary['country']}")
        else:
            raise ValueError(f"unknown action '{action.identifier}'")


Handler = export(App)
