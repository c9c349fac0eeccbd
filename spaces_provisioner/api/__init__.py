"""The provisioning API (``/api/v1``): an aiohttp application, one module per resource.

:mod:`.app` builds the application and serves it (``python -m spaces_provisioner.api DIR``);
:mod:`.middleware` is the one error middleware; :mod:`.auth` tells who calls; :mod:`.body` reads
JSON bodies; :mod:`.applications`, :mod:`.organizations`, :mod:`.links`, :mod:`.people`,
:mod:`.registrations` hold the routes; :mod:`.client` is the API's own client (the command
line, the demo and the tests use it; it imports nothing of the server side); ``openapi.json``
describes every route.

May import :mod:`~spaces_provisioner.ops`, :mod:`~spaces_provisioner.web` (its page routes and
sheet rendering), the shared contracts and ``policies``; routes reach the database only through
operations.
"""
