"""Journal sources: each module reads one journal format into :mod:`bridge.model` records.

Importing this package registers every source type (``bridge.sources.base.SOURCE_TYPES``):
``oneroster_csv``, ``oneroster_rest``, ``ical``, ``myschool``, ``eljur``.
"""

from bridge.sources import eljur, ical, myschool, oneroster_csv, oneroster_rest  # noqa: F401 - registers them
