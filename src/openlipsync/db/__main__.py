"""``python -m openlipsync.db``: bring the database named by the settings (DATABASE_URL) to the latest schema.

Every API/worker process also migrates on start unless ``OPENLIPSYNC_AUTO_MIGRATE=false``; deployments that
prefer an explicit release step run this once instead (see docs/DEPLOY.md).
"""

from __future__ import annotations

import logging
import sys

from openlipsync.config import Settings
from openlipsync.db.migrate import upgrade
from openlipsync.db.session import Database


def main(argv: list[str]) -> int:
    revision = argv[0] if argv else "head"
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    db = Database(Settings().resolved_database_url())
    try:
        upgrade(db.engine, revision)
    finally:
        db.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
