"""Registers the ``batch`` and ``eval`` commands (placeholder until the batch module lands)."""
