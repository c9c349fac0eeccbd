"""Tests of the journal sources (fixtures are written by the tests from the specifications)."""
