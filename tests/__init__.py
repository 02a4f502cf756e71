"""Tests of the customer portal; a package so that `tests.servers` can be a plugin."""
