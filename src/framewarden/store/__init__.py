"""Durable records: SQLAlchemy models, repositories, migrations, blob store."""
