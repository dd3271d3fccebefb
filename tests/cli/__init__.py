"""Tests of the `platform` client (`homeport.cli`), run in process against a fake API."""
