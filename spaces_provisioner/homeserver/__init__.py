"""Talking to the homeserver: :mod:`.bot` (the Parta bot's Client-Server and Admin API calls,
including the registration-token half of the link ledger), :mod:`.user` (calls made on behalf of
a person: registering with a token, signing in, whoami), :mod:`.mail` (the homeserver's SMTP
settings). Imports only mautrix/aiohttp, the standard library and ``policies``.
"""
