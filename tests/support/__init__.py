"""Helpers for the test suite: real database servers and app fixtures."""
