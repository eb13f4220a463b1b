"""``python -m tenant_migrator`` and the ``tenant-migrator`` script.

A ``--database-url`` password is masked in the process list first, before the
CLI's imports (a fraction of a second it would otherwise stay visible): see
tenant_migrator/process_title.py.
"""

import sys

from tenant_migrator.process_title import hide_database_url


def run() -> None:
    hide_database_url()
    from tenant_migrator.cli import main

    sys.exit(main())


if __name__ == "__main__":
    run()
