"""tenant-migrator: move client.yaml tenant configuration into PostgreSQL, safely.

The package is a library with a thin CLI on top (``cli.py``). The pipeline, one
module per step:

    discovery -> loader -> validation -> secretrefs -> record -> planning -> apply -> report

See ARCHITECTURE.md for which module owns what.
"""

__version__ = "0.1.0"
