"""Homeport: a self-hosted platform that speaks Platform.sh's API and CLI.

This module must stay import-free: the `platform` client lives in `homeport.cli`
and runs on interpreters that have only the standard library.
"""

__version__ = "0.1.0"
