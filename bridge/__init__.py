"""The journal bridge: homework, grades and the timetable from a school's electronic journal
into its Matrix rooms, as an application service (mautrix ``Program`` + ``AppService`` +
``async_db``; not the deprecated ``mautrix.bridge`` base, which is made for puppeting).

Layers (a module imports only those above it)::

    model                     the one internal model (line item, result, lesson, timetable change)
    sources/                  one adapter per journal format → model (OneRoster gradebook CSV and
                              REST, iCalendar, «Моя школа» Schedule JSON, ЭлЖур); http.py
    directory, router         a school as the bridge routes by; where each record goes (pure)
    timetable, render         timetable changes (pure); the texts and the structured content
    db/                       the bridge's database: schema versions (UpgradeTable), queries
    provisioning              the client of Parta's provisioning service (directories, rooms)
    journal, commands         the engine (read, post, edit, cancel, remind, digest); ``!дз``
    config, program           the commented config and registration; ``python -m bridge``
"""
