"""Reports for people and machines.

- ``report.formats``: one table per command, ``--format`` value → renderer.
- ``report.validation``: the ``validate`` and ``check-env`` reports (text, JSON, Markdown).
- ``report.plan``: the ``plan`` diff report (text, JSON, Markdown).
- ``report.runs``: what runs did (import/sync summary, history, rollback).
- ``report.progress``: progress while files are read.

Each module documents its JSON shape at the top; those shapes are a stable
contract (keys are only ever added).
"""
