"""Marking text for translation where it is written, for the pages to translate where it is
shown: `N_("Payment terminal")` is the text itself, unchanged. Babel finds the marked text
when messages are extracted (`babel.cfg`), and the pages look it up in their catalogs
(`kassa/locale`) in the reader's language. Brand names are not marked: they read the same."""

from __future__ import annotations


def N_(message: str) -> str:  # the name gettext tools look for
    """`message`, marked for the pages' translations."""
    return message
