"""Unit tests of the connector's pure parts, natively: ``outpost app build`` writes the
SDK to ``target/outpost/sdk``, so ``PYTHONPATH=target/outpost/sdk python3 -m unittest``."""

import unittest

from app import summary_of


class SummaryTest(unittest.TestCase):
    def test_the_summary_names_city_country_and_org(self):
        record = {"ip": "8.8.8.8", "city": "Mountain View", "country": "US", "org": "AS15169 Google LLC"}
        self.assertEqual(summary_of(record), {"city": "Mountain View", "country": "US", "org": "AS15169 Google LLC"})
        self.assertEqual(summary_of({})["city"], "unknown")


if __name__ == "__main__":
    unittest.main()
