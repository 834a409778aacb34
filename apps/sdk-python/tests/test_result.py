"""The SDK's pure parts, natively: ``python3 -m unittest discover -s tests`` in apps/sdk-python."""

import json
import sys
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from outpost_app.http import Response, _shown  # noqa: E402
from outpost_app.result import ActionResult, Status  # noqa: E402


class ActionResultTest(unittest.TestCase):
    def test_a_result_without_a_status_succeeded_with_its_data_and_summary(self):
        result = ActionResult()
        result.add_data({"ip": "8.8.8.8"})
        result.update_summary({"found": 1})
        result.update_summary({"country": "US"})
        status, message, data, summary = result.parts()
        self.assertIs(status, Status.SUCCESS)
        self.assertEqual(message, "")
        self.assertEqual([json.loads(item) for item in data], [{"ip": "8.8.8.8"}])
        self.assertEqual(json.loads(summary), {"found": 1, "country": "US"})

    def test_set_status_keeps_the_message(self):
        result = ActionResult()
        result.set_status(Status.FAILED, "no record for 10.0.0.1")
        self.assertEqual((result.status, result.message), (Status.FAILED, "no record for 10.0.0.1"))

    def test_bad_input_is_refused_with_the_reason(self):
        result = ActionResult()
        with self.assertRaisesRegex(TypeError, "a data item must be a dict"):
            result.add_data(["not", "an", "object"])
        with self.assertRaisesRegex(TypeError, "the summary must be a dict"):
            result.update_summary("text")
        with self.assertRaisesRegex(TypeError, "not JSON serializable"):
            result.update_summary({"x": object()})
        with self.assertRaisesRegex(TypeError, "status must be"):
            result.set_status("success", "x")


class ResponseTest(unittest.TestCase):
    def test_json_and_text(self):
        response = Response("https://api.example.com/v1?key=secret", 200, {"content-type": "application/json"}, b'{"a": 1}')
        self.assertTrue(response.ok)
        self.assertEqual(response.json(), {"a": 1})
        self.assertEqual(response.text(), '{"a": 1}')

    def test_messages_leave_out_the_query_string(self):
        self.assertEqual(_shown("https://user:pw@api.example.com:8443/v1/x?key=secret"), "https://api.example.com:8443/v1/x")
        bad = Response("https://api.example.com/v1?key=secret", 200, {}, b"<html>")
        with self.assertRaisesRegex(ValueError, r"the response of https://api.example.com/v1 is not JSON"):
            bad.json()


if __name__ == "__main__":
    unittest.main()
