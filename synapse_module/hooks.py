"""Narrow wraps of Synapse internals that have no module callback, pinned to Synapse 1.163.

Synapse 1.163 offers modules no hook for to-device messages, none that can refuse a login
name with a clear error (an exception in ``get_username_for_registration`` becomes a bare 500;
``check_registration_for_spam`` can only answer 429 "Rate limited"), and none on membership
changes that is not also run for every message (``check_event_allowed`` reads the room's whole
state for each event), and none that sees whether a state event is scheduled for later (MSC4140).
Parta therefore wraps these methods on Synapse's own handler objects, once per process, when the
module loads:

- ``DeviceMessageHandler.send_device_message(requester, message_type, messages)``: a to-device
  message (a verification request, a key share, any custom type) reaches a recipient only if
  the sender may reach them under the contact rules (``Capabilities.may_contact``), or it is
  the sender's own device. Recipients the sender may not reach are dropped; when none is left
  the request is refused with 403 ``M_FORBIDDEN`` and Parta's reason.
- ``RegistrationHandler.check_username(localpart, ...)``: every path that creates an account
  (client registration and its ``/register/available``, the Admin API, shared-secret
  registration) refuses login names with a role word ("teacher.x"), a phone number or an
  e-mail address, and look-alikes of existing login names, with 400 ``M_INVALID_USERNAME``.
- ``RoomMemberHandler.update_membership(requester, target, room_id, action, ..., content)``: in a
  school room where the person may not post (announcements), a join, leave or kick carries no
  ``reason``: a reason is text that every member sees. The journal bridge changes nobody's
  membership but its own (its power level 50 in class rooms reaches kicks and bans; Synapse has no
  module hook for them).
- ``ProfileHandler.dispatch_set_profile_field(target_user, requester, field_name, new_value,
  by_admin)``: people set nothing in their profile (an avatar, or a custom field of the Matrix
  spec's extended profiles, is free content shown to every pupil one shares a room with); only
  server administrators (the bot) do. ``enable_set_avatar_url: false`` alone still lets an
  account without an avatar set a first one (Synapse 1.163 ``ProfileHandler.set_avatar_url``).
- ``DelayedEventsHandler.add(requester, *, room_id, event_type, state_key, ..., content, ...)``
  (MSC4140 delayed events): a person schedules no state event but their own call membership's leave
  (``Capabilities.may_delay_state``, ``delayed_state_leave_only``). Synapse runs the spam checker's
  ``user_may_send_state_event`` only in the REST servlet, at scheduling; when the event is sent later
  (``DelayedEventsHandler._send_event``) only ``check_event_for_spam`` runs, so a state rule of the
  moment (a running lesson, a role) would be asked at the wrong time. The module's
  ``check_event_for_spam`` asks the state rules again for a delayed state event when it is sent;
  this wrap refuses the rest at once, with a reason, instead of dropping it silently later.
  Delayed message events (scheduled messages) pass: ``check_event_for_spam`` judges them when sent.

The wraps replace the bound method on the handler instance (Synapse's servlets look the method
up at call time), call the original first, and keep its signature. :func:`check_targets` fails
loudly when Synapse's methods change shape; ``tests/unit/synapse_module/test_hooks.py`` runs it
against the pinned Synapse, so an upgrade that breaks a wrap breaks the build, not the rules.
Alternatives considered: a reverse-proxy rule cannot tell who may reach whom; carrying a patch
of Synapse would fork the pinned package. Sources: Synapse 1.163.2
``synapse/handlers/devicemessage.py``, ``synapse/handlers/register.py``,
``synapse/rest/client/sendtodevice.py``, ``synapse/handlers/profile.py``, ``synapse/rest/client/profile.py``,
``synapse/handlers/delayed_events.py``, ``synapse/rest/client/room.py`` (``RoomStateEventRestServlet``).
"""

from __future__ import annotations

import functools
import inspect
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from synapse.api.errors import Codes, SynapseError

from policies import names
from policies.capabilities import Account, Capabilities, Decision, deny
from policies.i18n import N_

from .refusal_metrics import count_refusal

log = logging.getLogger(__name__)

#: The Synapse release whose internals these wraps were written against.
PINNED_SYNAPSE = "1.163.2"
#: Attribute marking an already wrapped method (a module loaded twice wraps once).
_MARK = "_parta_wrapped"

#: (handler getter on HomeServer, the handler's class, method, parameters the wrap relies on, in order)
TARGETS: tuple[tuple[str, str, str, tuple[str, ...]], ...] = (
    ("get_device_message_handler", "synapse.handlers.devicemessage.DeviceMessageHandler", "send_device_message",
     ("requester", "message_type", "messages")),
    ("get_registration_handler", "synapse.handlers.register.RegistrationHandler", "check_username",
     ("localpart",)),
    ("get_room_member_handler", "synapse.handlers.room_member.RoomMemberHandler", "update_membership",
     ("requester", "target", "room_id", "action")),
    ("get_profile_handler", "synapse.handlers.profile.ProfileHandler", "dispatch_set_profile_field",
     ("target_user", "requester", "field_name", "new_value", "by_admin")),
    ("get_delayed_events_handler", "synapse.handlers.delayed_events.DelayedEventsHandler", "add",
     ("requester", "room_id", "event_type", "state_key", "origin_server_ts", "content")),
)


def synapse_version() -> str:
    """The installed Synapse release (the package's version, without a build suffix)."""
    from importlib.metadata import version

    return version("matrix-synapse")


class HookError(RuntimeError):
    """Synapse's internals no longer have the shape the wraps need; Parta refuses to run unguarded."""


def check_targets(hs: Any = None) -> None:
    """Raise :class:`HookError` unless every wrapped method exists with the expected leading
    parameters: on ``hs``'s handler objects, or (``hs`` None) on Synapse's handler classes."""
    import importlib

    for getter, class_path, method, params in TARGETS:
        if hs is not None:
            fn = getattr(getattr(hs, getter)(), method, None)
        else:
            module, _, name = class_path.rpartition(".")
            fn = getattr(getattr(importlib.import_module(module), name, None), method, None)
        if fn is None:
            raise HookError(f"Synapse has no {class_path}.{method}; Parta's wrap cannot be installed")
        names = [n for n in inspect.signature(fn).parameters if n != "self"]
        actual = tuple(names)[: len(params)]
        if actual != params:
            raise HookError(f"Synapse's {method}{actual} no longer starts with {params}; "
                            "update synapse_module/hooks.py")


PersonLookup = Callable[[str], Awaitable[Account]]
SettingsLookup = Callable[..., Awaitable[dict]]
Refuse = Callable[[Decision], SynapseError]


def install(hs: Any, *, bot: str, caps: Capabilities, person: PersonLookup, settings: SettingsLookup,
            refusal: Refuse, login_names_taken: Callable[[str], Awaitable[list[str]]], language: str,
            may_post_here: Callable[[str, str], Awaitable[bool]], bridge: str | None = None) -> None:
    """Wrap the methods of :data:`TARGETS` on ``hs``'s handlers (once per process).

    ``person``/``settings`` are the module's cached lookups; ``refusal`` turns a Decision into the
    module's 403; ``login_names_taken(localpart)`` lists existing localparts with the same skeleton;
    ``may_post_here(user_id, room_id)`` says whether the user may post text in the room;
    ``bridge``: the journal bridge's user id, which changes nobody's membership but its own (its
    power level 50 in class rooms would otherwise let it kick and ban pupils).
    Raises :class:`HookError` when Synapse's methods changed shape.
    """
    check_targets(hs)
    if synapse_version() != PINNED_SYNAPSE:
        log.warning("Parta's Synapse wraps were written for %s; this is %s (their shape still matches)",
                    PINNED_SYNAPSE, synapse_version())
    devices = hs.get_device_message_handler()
    if not getattr(devices.send_device_message, _MARK, False):
        devices.send_device_message = _wrap_to_device(devices.send_device_message, bot, caps, person, settings,
                                                      refusal)
    registration = hs.get_registration_handler()
    if not getattr(registration.check_username, _MARK, False):
        registration.check_username = _wrap_check_username(registration.check_username, bot, login_names_taken,
                                                           language)
    members = hs.get_room_member_handler()
    if not getattr(members.update_membership, _MARK, False):
        members.update_membership = _wrap_update_membership(members.update_membership, bot, may_post_here,
                                                            bridge, refusal)
    profiles = hs.get_profile_handler()
    if not getattr(profiles.dispatch_set_profile_field, _MARK, False):
        profiles.dispatch_set_profile_field = _wrap_set_profile_field(profiles.dispatch_set_profile_field, bot,
                                                                      refusal)
    delayed = hs.get_delayed_events_handler()
    if not getattr(delayed.add, _MARK, False):
        delayed.add = _wrap_delayed_add(delayed.add, bot, caps, refusal)


def _wrap_to_device(original: Callable[..., Awaitable[None]], bot: str, caps: Capabilities, person: PersonLookup,
                    settings: SettingsLookup, refusal: Refuse) -> Callable[..., Awaitable[None]]:
    @functools.wraps(original)
    async def send_device_message(requester: Any, message_type: str, messages: dict[str, dict], *args: Any,
                                  **kwargs: Any) -> None:
        sender = requester.user.to_string()
        if sender == bot:
            return await original(requester, message_type, messages, *args, **kwargs)
        me = await person(sender)
        allowed: dict[str, dict] = {}
        refused: Decision | None = None
        for recipient, by_device in messages.items():
            if recipient == sender:
                allowed[recipient] = by_device  # one's own devices (cross-signing, key backup)
                continue
            other = await person(recipient)
            d = caps.may_contact(me, other, await settings(me, other))
            if d:
                allowed[recipient] = by_device
            else:
                refused = d
                log.info("to-device %s from %s to %s dropped: %s", message_type, sender, recipient, d.reason)
        if refused is not None and not allowed:
            raise refusal(refused)
        return await original(requester, message_type, allowed, *args, **kwargs)

    setattr(send_device_message, _MARK, True)
    return send_device_message


def _wrap_check_username(original: Callable[..., Awaitable[None]], bot: str,
                         login_names_taken: Callable[[str], Awaitable[list[str]]],
                         language: str) -> Callable[..., Awaitable[None]]:
    bot_localpart = bot.split(":", 1)[0].lstrip("@")

    @functools.wraps(original)
    async def check_username(localpart: str, *args: Any, **kwargs: Any) -> None:
        await original(localpart, *args, **kwargs)
        if localpart == bot_localpart:
            return
        try:
            names.check_not_role_word(localpart)
            names.check_login_name(localpart, await login_names_taken(localpart))
        except names.NameRefused as e:
            count_refusal(e.reason)
            raise SynapseError(400, e.message(language), Codes.INVALID_USERNAME,
                               additional_fields={"org.parta.reason": e.reason,
                                                  "org.parta.messages": {lg: e.message(lg) for lg in ("ru", "en")}}
                               ) from e

    setattr(check_username, _MARK, True)
    return check_username


def _wrap_update_membership(original: Callable[..., Awaitable[Any]], bot: str,
                            may_post_here: Callable[[str, str], Awaitable[bool]], bridge: str | None = None,
                            refusal: Refuse | None = None) -> Callable[..., Awaitable[Any]]:
    signature = inspect.signature(original)

    @functools.wraps(original)
    async def update_membership(*args: Any, **kwargs: Any) -> Any:
        bound = signature.bind(*args, **kwargs)
        content = bound.arguments.get("content")
        requester = bound.arguments["requester"]
        if bridge is not None and refusal is not None and requester is not None \
                and requester.user.to_string() == bridge and str(bound.arguments["target"]) != bridge:
            raise refusal(Capabilities.bridge_refusal("invite"))
        if isinstance(content, dict) and "reason" in content and requester is not None:
            sender = requester.user.to_string()
            if sender != bot and not await may_post_here(sender, bound.arguments["room_id"]):
                bound.arguments["content"] = {k: v for k, v in content.items() if k != "reason"}
        return await original(*bound.args, **bound.kwargs)

    setattr(update_membership, _MARK, True)
    return update_membership


#: The refusal of a profile change made by a person (not the server).
PROFILE_REFUSAL = deny("profile_set_by_school", N_("Your profile is set by the school: pictures and other profile "
                                                   "fields cannot be changed here"))


def _wrap_set_profile_field(original: Callable[..., Awaitable[None]], bot: str,
                            refusal: Refuse) -> Callable[..., Awaitable[None]]:
    @functools.wraps(original)
    async def dispatch_set_profile_field(*args: Any, **kwargs: Any) -> None:
        requester = kwargs.get("requester")
        if not kwargs.get("by_admin") and requester is not None and requester.user.to_string() != bot:
            raise refusal(PROFILE_REFUSAL)
        return await original(*args, **kwargs)

    setattr(dispatch_set_profile_field, _MARK, True)
    return dispatch_set_profile_field


def _wrap_delayed_add(original: Callable[..., Awaitable[str]], bot: str, caps: Capabilities,
                      refusal: Refuse) -> Callable[..., Awaitable[str]]:
    @functools.wraps(original)
    async def add(requester: Any, *args: Any, **kwargs: Any) -> str:
        state_key = kwargs.get("state_key")
        sender = requester.user.to_string()
        if state_key is not None and sender != bot:
            d = caps.may_delay_state(sender, str(kwargs.get("event_type") or ""), str(state_key),
                                     kwargs.get("content"))
            if not d:
                raise refusal(d)
        return await original(requester, *args, **kwargs)

    setattr(add, _MARK, True)
    return add
