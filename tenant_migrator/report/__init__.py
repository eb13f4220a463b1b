"""Reports for people and machines.

- ``report.validation``: the ``validate`` and ``check-env`` reports (text, JSON).
- ``report.plan``: the ``plan``/``import`` diff report (text, JSON, Markdown).

Each module documents its JSON shape at the top; those shapes are a stable
contract (keys are only ever added).
"""
