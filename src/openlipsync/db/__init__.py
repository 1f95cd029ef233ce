"""Job store: SQLAlchemy 2 models, sessions and Alembic migrations (run programmatically on start)."""

from openlipsync.db.migrate import upgrade
from openlipsync.db.models import ApiKey, Asset, Base, Batch, Job, Tenant, WebhookDelivery
from openlipsync.db.session import Database

__all__ = ["ApiKey", "Asset", "Base", "Batch", "Database", "Job", "Tenant", "WebhookDelivery", "upgrade"]
