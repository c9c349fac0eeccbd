"""Journal sources: each module reads one journal format into :mod:`bridge.model` records.

Importing this package registers every source type (``bridge.sources.base.SOURCE_TYPES``).
"""
