"""User-facing text: gettext catalogs (Babel), Russian by default, English available.

Message ids are English; ``policies/locale/<lang>/LC_MESSAGES/*.po`` hold the
translations, one ``.po`` file per area (``roster.po``, ``application.po``...), merged
into one catalog. The ``.po`` files are compiled in memory on first use (Babel), so
the repository carries no binary ``.mo`` files.

Usage::

    from policies.i18n import _
    _("Class {name} not found").format(name=...)     # in the current language

The current language is ``PARTA_LANG`` (``ru`` or ``en``; default ``ru``) unless
:func:`set_language` chose another.
"""

from __future__ import annotations

import contextvars
import functools
import gettext
import io
import os
from pathlib import Path

LANGUAGES = ("ru", "en")
DEFAULT_LANGUAGE = "ru"
DOMAIN = "parta"
LOCALE_DIR = Path(__file__).parent / "locale"

_language: contextvars.ContextVar[str | None] = contextvars.ContextVar("parta_language", default=None)


@functools.cache
def translations(language: str) -> gettext.NullTranslations:
    """The catalog for ``language`` (``ru``/``en``); English ids need no catalog.

    Raises ValueError for a language Parta has no catalog for.
    """
    if language not in LANGUAGES:
        raise ValueError(f"unsupported language {language!r}; use one of {', '.join(LANGUAGES)}")
    files = sorted((LOCALE_DIR / language / "LC_MESSAGES").glob("*.po"))
    if not files:
        return gettext.NullTranslations()
    from babel.messages.catalog import Catalog
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    merged = Catalog(locale=language, domain=DOMAIN)
    for po in files:
        with po.open("rb") as f:
            for message in read_po(f, locale=language):
                if message.id and message.string:
                    merged[message.id] = message
    buf = io.BytesIO()
    write_mo(buf, merged)
    buf.seek(0)
    return gettext.GNUTranslations(buf)


def current_language() -> str:
    """The language in force: :func:`set_language`'s, else ``PARTA_LANG``, else Russian."""
    lang = _language.get() or os.environ.get("PARTA_LANG") or DEFAULT_LANGUAGE
    return lang if lang in LANGUAGES else DEFAULT_LANGUAGE


def set_language(language: str | None) -> None:
    """Choose the language for the current context (None: back to the default)."""
    if language is not None and language not in LANGUAGES:
        raise ValueError(f"unsupported language {language!r}; use one of {', '.join(LANGUAGES)}")
    _language.set(language)


def gettext_(message: str, language: str | None = None) -> str:
    """Translate ``message`` (an English msgid) into ``language`` or the current language."""
    return translations(language or current_language()).gettext(message)


def ngettext(singular: str, plural: str, n: int, language: str | None = None) -> str:
    """Plural-aware translation (Russian has three plural forms)."""
    return translations(language or current_language()).ngettext(singular, plural, n)


def N_(message: str) -> str:
    """Mark ``message`` for translation without translating it now (gettext's ``N_``): for
    messages kept in data and translated when shown, in the language of the one who reads them."""
    return message


def both(message: str) -> dict[str, str]:
    """The message in every language: ``{"ru": ..., "en": ...}`` (for API errors and state)."""
    return {lang: gettext_(message, lang) for lang in LANGUAGES}


_ = gettext_
