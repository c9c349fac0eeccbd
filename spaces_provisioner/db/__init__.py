"""The provisioning service's own database (SQLite by default, PostgreSQL schema
``parta_provisioning``): :mod:`.schema` (tables, engine, transactions, the audit log) and
:mod:`.queries` (reads several layers share). Imports only SQLAlchemy, psycopg2 and ``policies``.
"""
