"""Database models of the portal, one module per concern."""

from sites.models.audit import AuditEvent
from sites.models.content import (
    Article,
    Document,
    Meeting,
    Page,
    PublishState,
    SiteState,
)
from sites.models.groups import Group, Structure
from sites.models.iati import (
    IATI_TABLES,
    IatiActivity,
    IatiBudget,
    IatiDescription,
    IatiDocumentLink,
    IatiLocation,
    IatiParticipatingOrg,
    IatiSector,
    IatiTransaction,
)
from sites.models.users import Membership, MembershipRole, User

__all__ = [
    "Article",
    "AuditEvent",
    "Document",
    "Group",
    "IATI_TABLES",
    "IatiActivity",
    "IatiBudget",
    "IatiDescription",
    "IatiDocumentLink",
    "IatiLocation",
    "IatiParticipatingOrg",
    "IatiSector",
    "IatiTransaction",
    "Meeting",
    "Membership",
    "MembershipRole",
    "Page",
    "PublishState",
    "SiteState",
    "Structure",
    "User",
]
