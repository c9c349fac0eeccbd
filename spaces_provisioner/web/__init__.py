"""What people see in a browser or on paper: the registration page (``/register``, Jinja2
templates in ``templates/``, Russian and English, no JavaScript) and the printable class sheets
of personal codes (HTML and PDF).

May import :mod:`~spaces_provisioner.ops`, :mod:`~spaces_provisioner.homeserver` (a person's own
Client-Server calls) and ``policies``; the page reaches the database only through
:mod:`spaces_provisioner.ops.page`.
"""
