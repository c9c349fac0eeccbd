"""Room templates (``policies/data/rooms.yaml``) rendered into the desired state of each room.

Pure: no Synapse, no network. The provisioner feeds the result to the homeserver
(``/createRoom`` and state events); the tests compare the homeserver's rooms with it.

Sources: Matrix Client-Server API "Spaces" (``m.space.child``/``m.space.parent``),
"Restricted rooms" (MSC3083, join rule ``restricted`` with ``allow``), "Room versions"
v12 (MSC4289: the creator has unlimited power and is not listed in ``users``); room widgets as
Element reads them (MSC1236: state ``im.vector.modular.widgets``, the state key is the widget's
id, content ``{"type", "url", "name", "data"}``; empty content removes the widget).
"""

from __future__ import annotations

import copy
import functools
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from ruamel.yaml import YAML

from .i18n import N_, gettext_
from .state_events import JOURNAL_WIDGET, WIDGET_TYPE, PartaEventTypes

DATA_DIR = Path(__file__).parent / "data"


#: The journal's widget name (shown on the widget's tab in Element).
JOURNAL_WIDGET_NAME = N_("Electronic journal")
#: The organization settings the journal bridge reads (``policies/data/org_settings.yaml``).
JOURNAL_BRIDGE_SETTING = "journal_bridge"
JOURNAL_URL_SETTING = "journal_url"


@dataclass(frozen=True)
class RoomTemplate:
    """One room kind of ``rooms.yaml``: ``scope`` is ``org``, ``class`` or ``person`` (a diary).

    ``journal_bridge``: the bridge's power level here while the organization has it on (0: the
    bridge never comes in); ``journal_link``: the room carries the journal widget; ``only_with``:
    the organization setting without which the kind is not built; ``alias`` None: no address.
    """

    kind: str
    scope: str
    space: bool
    parent: str | None
    order: str
    name: str
    topic: str
    alias: str | None
    join_rule: str
    history_visibility: str
    members: tuple[str, ...]
    grants: Mapping[str, int]
    power_levels: Mapping
    posting_setting: str | None = None
    posting: str | None = None
    join_refusal: str = ""
    journal_bridge: int = 0
    journal_link: bool = False
    only_with: str | None = None


@dataclass(frozen=True)
class RoomRef:
    """A room of an organization: its kind, its class for class-scoped kinds, its person for
    person-scoped kinds (a pupil's diary)."""

    org: str
    kind: str
    class_id: str | None = None
    person_id: str | None = None

    @property
    def key(self) -> str:
        """Stable key, e.g. ``school-7/announcements``, ``school-7/class_chat@112002`` or
        ``school-7/diary/pupil-004`` (the ``rooms`` table's key)."""
        if self.person_id is not None:
            return f"{self.org}/{self.kind}/{self.person_id}"
        return f"{self.org}/{self.kind}" if self.class_id is None else f"{self.org}/{self.kind}@{self.class_id}"


def slug(text: str) -> str:
    """An alias-safe, lower-case slug of a roster id (``[a-z0-9_=-]``), never empty, and distinct for
    distinct ids: when transliteration and lower-casing changed anything, a short hash of the
    original id is appended ("5А" → ``5a-<hash>``, "5a" → ``5a``)."""
    import hashlib

    import iuliia

    latin = iuliia.WIKIPEDIA.translate(text).lower()
    s = re.sub(r"[^a-z0-9_=-]+", "-", latin).strip("-") or "x"
    if s != text:
        s += "-" + hashlib.sha256(text.encode("utf-8")).hexdigest()[:6]
    return s


class Templates:
    """The parsed templates: ``kinds`` by name, in file order (parents before children)."""

    def __init__(self, data: Mapping):
        self.room_version: str = str(data["room_version"])
        self.levels: dict[str, int] = dict(data["levels"])
        self.base_power_levels: dict = copy.deepcopy(dict(data["power_levels_base"]))
        self.kinds: dict[str, RoomTemplate] = {}
        for kind, k in data["kinds"].items():
            self.kinds[kind] = RoomTemplate(
                kind=kind, scope=k["scope"], space=bool(k.get("space", False)), parent=k.get("parent"),
                order=str(k.get("order", "")), name=k["name"], topic=k.get("topic", ""),
                alias=k.get("alias") if k["scope"] == "person" else k["alias"],  # only diaries go without
                join_rule=k["join_rule"], history_visibility=k.get("history_visibility", "shared"),
                members=tuple(k.get("members", ())), grants=dict(k.get("grants", {})),
                power_levels=copy.deepcopy(dict(k.get("power_levels", {}))),
                posting_setting=k.get("posting_setting"), posting=k.get("posting"),
                join_refusal=k.get("join_refusal", ""), journal_bridge=int(k.get("journal_bridge") or 0),
                journal_link=bool(k.get("journal_link", False)), only_with=k.get("only_with"),
            )
        for t in self.kinds.values():
            if t.parent is not None and t.parent not in self.kinds:
                raise ValueError(f"rooms.yaml: kind {t.kind!r} has unknown parent {t.parent!r}")

    def refs_for_org(self, org: str, class_ids: list[str], settings: Mapping | None = None,
                     known: Iterable[str] = ()) -> list[RoomRef]:
        """Every room of an organization, parents before children (not the person-scoped diaries).

        A kind ``only_with`` a setting is in only when ``settings`` turn it on, or when its room
        already exists (its key in ``known``): it is kept in order after the setting goes off.
        """
        known = set(known)

        def wanted(t: RoomTemplate, ref: RoomRef) -> bool:
            return t.only_with is None or bool((settings or {}).get(t.only_with)) or ref.key in known

        refs = [RoomRef(org, t.kind) for t in self.kinds.values() if t.scope == "org"]
        for cid in class_ids:
            refs += [RoomRef(org, t.kind, cid) for t in self.kinds.values() if t.scope == "class"]
        return [r for r in refs if wanted(self.kinds[r.kind], r)]

    def journal_bridge_kinds(self) -> frozenset[str]:
        """The kinds the journal bridge serves (those with a ``journal_bridge`` level)."""
        return frozenset(k for k, t in self.kinds.items() if t.journal_bridge > 0)

    def journal_bridge_level(self, kind: str, settings: Mapping | None) -> int:
        """The bridge's power level in a room of ``kind``: the kind's ``journal_bridge`` while the
        organization's ``journal_bridge`` setting is on, else 0 (the bridge is not placed)."""
        t = self.kinds.get(kind)
        if t is None or not (settings or {}).get(JOURNAL_BRIDGE_SETTING):
            return 0
        return t.journal_bridge

    def journal_widget(self, ref: RoomRef, settings: Mapping | None, class_title: str | None,
                       language: str | None) -> dict | None:
        """The journal widget's content for a room (None when the kind has no link or the
        organization no ``journal_url``): ``{"type": "m.custom", "url", "name", "data": {}}``, the
        URL template's ``{org}``, ``{class}``, ``{class_title}`` filled in, URL-encoded.

        A template with any other placeholder (or broken braces) gives None rather than a wrong link.
        """
        t = self.kinds.get(ref.kind)
        template = (settings or {}).get(JOURNAL_URL_SETTING)
        if t is None or not t.journal_link or not isinstance(template, str) or not template:
            return None
        url = fill_journal_url(template, org=ref.org, class_id=ref.class_id or "", class_title=class_title or "")
        if url is None:
            return None
        return {"type": "m.custom", "url": url, "name": gettext_(JOURNAL_WIDGET_NAME, language), "data": {}}

    def parent_of(self, ref: RoomRef) -> RoomRef | None:
        """The space a room belongs to (None for the school space)."""
        t = self.kinds[ref.kind]
        if t.parent is None:
            return None
        parent_scope = self.kinds[t.parent].scope
        return RoomRef(ref.org, t.parent, ref.class_id if parent_scope == "class" else None)

    def alias_localpart(self, ref: RoomRef) -> str:
        """The alias localpart in the organization's namespace, e.g. ``school-7.112002.chat``.

        Raises ValueError for a kind without an address (a diary)."""
        alias = self.kinds[ref.kind].alias
        if alias is None:
            raise ValueError(f"rooms.yaml: rooms of kind {ref.kind!r} have no alias")
        return alias.format(org=ref.org, **({"class": slug(ref.class_id)} if ref.class_id else {}))

    def texts(self, ref: RoomRef, *, org_name: str, class_title: str | None, language: str | None,
              person_name: str = "") -> tuple[str, str]:
        """(name, topic) of a room in ``language``; ``person_name``: a diary's pupil ("Иванов Иван")."""
        t = self.kinds[ref.kind]
        values = {"org_name": org_name, "class_title": class_title or "", "person_name": person_name}
        return (gettext_(t.name, language).format(**values), gettext_(t.topic, language).format(**values))

    def power_levels(self, ref: RoomRef, users: Mapping[str, int]) -> dict:
        """``m.room.power_levels`` content: base merged with the kind's, ``users`` added.

        ``users`` must not contain the room's creator (room version 12).
        """
        t = self.kinds[ref.kind]
        pl = copy.deepcopy(self.base_power_levels)
        for key, value in t.power_levels.items():
            if key == "events":
                pl["events"].update(value)
            else:
                pl[key] = value
        pl["users"] = dict(sorted(users.items()))
        return pl

    def grants(self, ref: RoomRef, settings: Mapping | None = None) -> dict[str, int]:
        """The kind's grants, plus the posting grant when the organization's setting allows it."""
        t = self.kinds[ref.kind]
        grants = dict(t.grants)
        if t.posting_setting and (settings or {}).get(t.posting_setting):
            grants["teacher"] = max(grants.get("teacher", 0), int(t.power_levels.get("events_default", 50)))
        return grants

    def state(self, ref: RoomRef, *, room_ids: Mapping[str, str], server_name: str,
              children: list[tuple[RoomRef, str]], org_name: str, class_title: str | None,
              language: str, users: Mapping[str, int], settings: Mapping | None = None,
              person_name: str = "", tag: Mapping | None = None) -> dict[tuple[str, str], dict]:
        """The desired current state of a room: ``{(event type, state key): content}``.

        ``room_ids`` maps room keys to room ids for the parent (needed for a restricted
        join rule and ``m.space.parent``); ``children`` lists ``(child ref, room id)``
        for a space. ``m.room.create`` and ``m.room.member`` are not part of it.
        ``settings``: the organization's (the journal widget); ``person_name`` and ``tag`` (more
        ``org.parta.room`` fields: a diary's ``student`` and ``members``) for person-scoped rooms.
        The journal widget of a room that should carry none is ``{}`` (Matrix: empty content
        removes a widget); the caller writes it only over a widget that is there.
        """
        t = self.kinds[ref.kind]
        name, topic = self.texts(ref, org_name=org_name, class_title=class_title, language=language,
                                 person_name=person_name)
        via = [server_name]
        state: dict[tuple[str, str], dict] = {
            ("m.room.name", ""): {"name": name},
            ("m.room.topic", ""): {"topic": topic},
            ("m.room.history_visibility", ""): {"history_visibility": t.history_visibility},
            ("m.room.guest_access", ""): {"guest_access": "forbidden"},
            ("m.room.power_levels", ""): self.power_levels(ref, users),
            (PartaEventTypes.ROOM, ""): {"kind": ref.kind, "org": ref.org, "class": ref.class_id,
                                    "class_title": class_title, "org_name": org_name, **(tag or {})},
        }
        if t.journal_link:
            state[(WIDGET_TYPE, JOURNAL_WIDGET)] = self.journal_widget(ref, settings, class_title, language) or {}
        parent = self.parent_of(ref)
        if t.join_rule == "restricted":
            if parent is None:
                raise ValueError(f"rooms.yaml: {ref.kind} is restricted but has no parent space")
            state[("m.room.join_rules", "")] = {
                "join_rule": "restricted",
                "allow": [{"type": "m.room_membership", "room_id": room_ids[parent.key]}],
            }
        else:
            state[("m.room.join_rules", "")] = {"join_rule": t.join_rule}
        if parent is not None:
            state[("m.space.parent", room_ids[parent.key])] = {"via": via, "canonical": True}
        for child, child_id in children:
            order = self.kinds[child.kind].order + (child.class_id or "")
            state[("m.space.child", child_id)] = {"via": via, "order": order, "suggested": True}
        return state


def fill_journal_url(template: str, *, org: str, class_id: str, class_title: str) -> str | None:
    """The ``journal_url`` template with ``{org}``, ``{class}`` and ``{class_title}`` filled in, each
    value URL-encoded (a title "5А" becomes ``5%D0%90``); None for a template with other
    placeholders, broken braces or a scheme other than https/http."""
    values = {"org": quote(org, safe=""), "class": quote(class_id, safe=""), "class_title": quote(class_title, safe="")}
    try:
        url = template.format_map(values)
    except (KeyError, IndexError, ValueError, AttributeError):
        return None
    if not re.match(r"^https?://[^\s/?#]+", url) or any(ch.isspace() for ch in url):
        return None
    return url


@functools.cache
def default_templates() -> Templates:
    """The templates shipped in ``policies/data/rooms.yaml``."""
    return load_templates(DATA_DIR / "rooms.yaml")


def load_templates(path: Path) -> Templates:
    """Parse a templates file; raises ValueError naming the file for a broken one."""
    try:
        data = YAML(typ="safe").load(Path(path).read_text(encoding="utf-8"))
        return Templates(data)
    except (KeyError, TypeError) as e:
        raise ValueError(f"{path}: broken room templates ({e!r})") from e
