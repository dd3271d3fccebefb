"""Tests of the individual commands (`homeport.cli.commands`)."""
