"""How Parta's roles are named to people: the one table of user-facing role labels.

English msgids, translated by :mod:`policies.i18n` when shown (``N_`` marks them). Two forms,
because Russian and English both need them:

- :data:`ROLE_NOUNS`: inside a sentence ("This link registers {role} of class 5А"),
  e.g. "a student" / «ученика»;
- :data:`ROLE_TITLES`: on its own, as a heading (a class sheet's card), e.g. "Student" / «Ученик».
"""

from __future__ import annotations

from .i18n import N_, gettext_

#: Role → how it is named inside a sentence ("This link is for {role}").
ROLE_NOUNS: dict[str, str] = {
    "admin": N_("an administrator"),
    "head": N_("the head"),
    "teacher": N_("a teacher"),
    "student": N_("a student"),
    "parent": N_("a parent"),
}

#: Role → its title on its own (a card's heading).
ROLE_TITLES: dict[str, str] = {
    "admin": N_("Administrator"),
    "head": N_("Head"),
    "teacher": N_("Teacher"),
    "student": N_("Student"),
    "parent": N_("Parent"),
}


def role_title(role: str, language: str | None = None) -> str:
    """The role's title in ``language`` (the current one by default); unknown roles as they are."""
    label = ROLE_TITLES.get(role)
    return gettext_(label, language) if label else role


def role_noun(role: str, language: str | None = None) -> str:
    """The role as named inside a sentence, in ``language``; unknown roles as they are."""
    label = ROLE_NOUNS.get(role)
    return gettext_(label, language) if label else role


#: How the kinds of a roster import's summary are named (English msgids): the
#: command line's summary and the console's say the same words.
ROSTER_KINDS = {
    "classes_added": N_("classes added"), "classes_changed": N_("classes renamed or changed"),
    "people_added": N_("people added"), "people_changed": N_("people changed"),
    "people_removed": N_("people removed from the school"),
    "enrollments_added": N_("enrollments added"), "enrollments_changed": N_("enrollments changed"),
    "enrollments_removed": N_("enrollments ended"), "guardianships_added": N_("guardians linked"),
    "guardianships_changed": N_("guardians changed"), "guardianships_removed": N_("guardians unlinked"),
}
