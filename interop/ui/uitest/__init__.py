"""Helpers for the web UI's browser scenario: the management API, the browser, traffic."""
