"""Tests of the journal bridge."""
