"""Who belongs in which room: the member selectors of ``rooms.yaml`` evaluated on an organization.

Pure: input is :class:`OrgPeople` (the people of one organization who have accounts),
output is ``{user_id: power_level}`` for one room of one kind.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .model import Role


@dataclass
class OrgPeople:
    """The people of one organization who have Matrix accounts.

    ``roles``: user id → Role. ``confirmed``: teachers the school has confirmed.
    ``class_students`` / ``class_teachers`` / ``homeroom``: class id → user ids.
    ``named_homeroom``: classes whose roster names a class teacher, with an account or not yet.
    ``children``: guardian's user id → the user ids of their children in this organization.
    """

    roles: dict[str, Role] = field(default_factory=dict)
    confirmed: set[str] = field(default_factory=set)
    class_students: dict[str, set[str]] = field(default_factory=dict)
    class_teachers: dict[str, set[str]] = field(default_factory=dict)
    homeroom: dict[str, set[str]] = field(default_factory=dict)
    named_homeroom: set[str] = field(default_factory=set)
    children: dict[str, set[str]] = field(default_factory=dict)

    def with_role(self, role: Role) -> set[str]:
        """User ids of everyone with ``role``."""
        return {u for u, r in self.roles.items() if r is role}

    def class_parents(self, class_id: str) -> set[str]:
        """Guardians of the students of ``class_id``."""
        students = self.class_students.get(class_id, set())
        return {p for p, kids in self.children.items() if kids & students}

    def homeroom_of(self, class_id: str) -> set[str]:
        """The class teacher(s) of a class: its primary teachers; for a class whose roster names
        none, every teacher of the class. A named class teacher without an account yet leaves the
        place empty: the parents' chat does not fill up with subject teachers meanwhile."""
        if class_id in self.named_homeroom:
            return set(self.homeroom.get(class_id, set()))
        return set(self.homeroom.get(class_id) or self.class_teachers.get(class_id, set()))

    def select(self, selector: str, class_id: str | None = None) -> set[str]:
        """Evaluate one selector of ``rooms.yaml`` (see the comment at its top).

        Raises KeyError for an unknown selector (a mistake in the templates).
        """
        teachers = self.with_role(Role.TEACHER)
        cls = class_id or ""
        match selector:
            case "admin":
                return self.with_role(Role.ADMIN)
            case "head":
                return self.with_role(Role.HEAD)
            case "teacher":
                return teachers & self.confirmed
            case "teacher_unconfirmed":
                return teachers - self.confirmed
            case "student":
                return self.with_role(Role.STUDENT)
            case "parent":
                return self.with_role(Role.PARENT)
            case "class_teacher":
                return self.class_teachers.get(cls, set()) & self.confirmed
            case "homeroom_teacher":
                return self.homeroom_of(cls) & self.confirmed
            case "class_student":
                return set(self.class_students.get(cls, set()))
            case "class_parent":
                return self.class_parents(cls)
        raise KeyError(f"unknown member selector {selector!r} in the room templates")

    def placement(self, members: list[str], grants: dict[str, int],
                  class_id: str | None = None) -> tuple[set[str], dict[str, int]]:
        """Members of a room and the power levels granted: ``(user_ids, {user_id: level})``.

        ``grants`` maps selectors to levels; the highest level that applies wins; users
        granted a level are not thereby members (admins get power in class rooms they may join).
        """
        users = set().union(*(self.select(s, class_id) for s in members)) if members else set()
        levels: dict[str, int] = {}
        for selector, level in grants.items():
            for u in self.select(selector, class_id):
                if level > levels.get(u, 0):
                    levels[u] = level
        return users, {u: lvl for u, lvl in levels.items() if lvl > 0}
