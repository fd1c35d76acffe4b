"""Errors a user can act on. Each message is one line naming what was wrong and where.

The command line maps them to exit statuses: an `InputError` (a bad value, file, folder,
config or lexicon) is status 2, a `DatabaseError` status 1. This module imports nothing, so
the command line can catch them without loading the modules that raise them.
"""

from __future__ import annotations


class InputError(Exception):
    """Something the user gave cannot be used: a value, a file or folder, an output path."""

    label = ""  # shown before the message, e.g. "config error"


class ConfigError(InputError):
    """The configuration is unusable; the message names the file and the key."""

    label = "config error"


class ConfigEditError(InputError):
    """An edit of the config file was refused (a duplicate, an unknown name); it is unchanged."""


class LexiconError(InputError):
    """A lexicon file that cannot be used; the message names the file and the entry."""

    label = "lexicon error"


class DatabaseError(Exception):
    """The database cannot be opened or migrated; the message says which and why."""
