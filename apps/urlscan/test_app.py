"""The connector's pure parts, natively: ``python3 -m unittest test_app`` (the SDK on
the path: ``PYTHONPATH=../sdk-python``)."""

import unittest

from app import hunt_summary, report_summary, search_query


class UrlscanTest(unittest.TestCase):
    def test_queries_name_one_field_and_refuse_what_would_widen_them(self):
        self.assertEqual(search_query("domain", " example.com "), "domain:example.com")
        for bad in ["", "a b", 'x" OR "y', "x)"]:
            with self.assertRaisesRegex(ValueError, "is not a valid domain"):
                search_query("domain", bad)

    def test_summaries(self):
        found = {"total": 2, "results": [{"task": {"time": "2024-01-01T00:00:00Z"}, "page": {"url": "https://example.com/"}}]}
        self.assertEqual(
            hunt_summary(found),
            {"total_results": 2, "latest_scan": "2024-01-01T00:00:00Z", "latest_url": "https://example.com/"},
        )
        self.assertEqual(hunt_summary({}), {"total_results": 0})
        report = {"page": {"url": "https://x.example/"}, "verdicts": {"overall": {"malicious": True, "score": 100}}}
        self.assertEqual(report_summary(report), {"url": "https://x.example/", "malicious": True, "score": 100})


if __name__ == "__main__":
    unittest.main()
