"""Translatable labels for stored codes (document types, states, roles)."""

from flask_babel import lazy_gettext as _l

DOC_TYPES = {
    "report": _l("Report"),
    "minutes": _l("Meeting minutes"),
    "presentation": _l("Presentation"),
    "terms": _l("Terms of reference"),
    "note": _l("Policy note"),
    "agreement": _l("Agreement"),
    "data": _l("Data"),
    "other": _l("Other"),
}

STATES = {
    "draft": _l("Draft"),
    "scheduled": _l("Scheduled"),
    "published": _l("Published"),
    "archived": _l("Archived"),
}

ROLES = {
    "admin": _l("Administrator"),
    "focal": _l("Focal point"),
    "member": _l("Member"),
    "none": _l("No group"),
}

KINDS = {"gt": _l("Thematic group"), "sgt": _l("Sub-group")}
