"""What an imported IATI file lacks: a report of counts per problem, not a refusal.

Real files are messy (no organisation refs, no location reach, 3-digit sectors only…). An
import keeps them whole and tells the user what is missing, as `QualityFinding`s with French
labels. `QualityCounter` is fed one activity at a time, so it follows a streamed read.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from iati.model import Activity

ACTIVITY_UNIT = "activités"
ORG_UNIT = "organisations participantes"
LOCATION_UNIT = "lieux"
AMOUNT_UNIT = "montants (budgets et transactions)"
EXAMPLES = 5

#: code -> (French label, what is counted); in the order the report lists them.
PROBLEMS: dict[str, tuple[str, str]] = {
    "no-title": ("activités sans titre", ACTIVITY_UNIT),
    "no-description": ("activités sans description", ACTIVITY_UNIT),
    "no-default-language": ("activités sans langue par défaut (xml:lang)", ACTIVITY_UNIT),
    "no-reporting-org-ref": ("activités dont l'organisation déclarante n'a pas de référence "
                             "(ref)", ACTIVITY_UNIT),
    "no-participating-org": ("activités sans organisation participante", ACTIVITY_UNIT),
    "no-funding-org": ("activités sans organisation de financement (rôle 1)", ACTIVITY_UNIT),
    "no-participating-org-ref": ("organisations participantes sans référence (ref)", ORG_UNIT),
    "no-status": ("activités sans statut", ACTIVITY_UNIT),
    "no-dates": ("activités sans aucune date", ACTIVITY_UNIT),
    "no-start-date": ("activités sans date de début (prévue ou réelle)", ACTIVITY_UNIT),
    "no-end-date": ("activités sans date de fin (prévue ou réelle)", ACTIVITY_UNIT),
    "no-recipient": ("activités sans pays ni région bénéficiaire", ACTIVITY_UNIT),
    "no-sector": ("activités sans secteur", ACTIVITY_UNIT),
    "sector-3-digit-only": ("activités dont les secteurs ne sont que des catégories CAD à "
                            "3 chiffres (vocabulaire 2), sans code CAD à 5 chiffres",
                            ACTIVITY_UNIT),
    "no-location": ("activités sans lieu", ACTIVITY_UNIT),
    "no-location-point": ("lieux sans point (coordonnées) utilisable", LOCATION_UNIT),
    "no-location-reach": ("lieux sans portée (location-reach)", LOCATION_UNIT),
    "no-location-administrative": ("lieux sans zone administrative (administrative)",
                                   LOCATION_UNIT),
    "no-location-exactness": ("lieux sans précision (exactness)", LOCATION_UNIT),
    "no-budget": ("activités sans budget", ACTIVITY_UNIT),
    "no-transaction": ("activités sans transaction", ACTIVITY_UNIT),
    "no-currency": ("montants sans devise (ni devise par défaut de l'activité)",
                    AMOUNT_UNIT),
    "no-document-link": ("activités sans lien vers un document", ACTIVITY_UNIT),
}


@dataclass
class QualityFinding:
    """One kind of missing data: how many items lack it, out of how many."""

    code: str
    label: str
    count: int
    total: int
    unit: str
    examples: list[str] = field(default_factory=list)  # identifiers of concerned activities

    def to_dict(self) -> dict[str, object]:
        """The JSON shape."""
        return {"code": self.code, "label": self.label, "count": self.count,
                "total": self.total, "unit": self.unit, "examples": list(self.examples)}

    def format(self) -> str:
        """`count / total label`, one line of the command line's report."""
        return f"{self.count} / {self.total} {self.label}"


@dataclass
class QualityReport:
    """What the file lacks, and how much it holds."""

    activities: int = 0
    locations: int = 0
    transactions: int = 0
    participating_orgs: int = 0
    findings: list[QualityFinding] = field(default_factory=list)

    def get(self, code: str) -> QualityFinding | None:
        """The finding of that code, if the problem was seen."""
        return next((f for f in self.findings if f.code == code), None)

    def to_dict(self) -> dict[str, object]:
        """The JSON shape."""
        return {"activities": self.activities, "locations": self.locations,
                "transactions": self.transactions,
                "findings": [f.to_dict() for f in self.findings]}


class QualityCounter:
    """Counts problems over activities given one at a time (`add`), then `finish`."""

    def __init__(self) -> None:
        self.report = QualityReport()
        self._counts: dict[str, int] = {}
        self._examples: dict[str, list[str]] = {}
        self._amounts = 0

    def _hit(self, code: str, identifier: str, times: int = 1) -> None:
        if times <= 0:
            return
        self._counts[code] = self._counts.get(code, 0) + times
        examples = self._examples.setdefault(code, [])
        if len(examples) < EXAMPLES and identifier not in examples:
            examples.append(identifier)

    def add(self, activity: Activity) -> None:
        """Count what `activity` lacks."""
        ident = activity.identifier
        report = self.report
        report.activities += 1
        report.locations += len(activity.locations)
        report.transactions += len(activity.transactions)
        report.participating_orgs += len(activity.participating_orgs)
        checks = {
            "no-title": not any(activity.title.values()),
            "no-description": not any(any(d.text.values()) for d in activity.descriptions),
            "no-default-language": not activity.default_lang,
            "no-reporting-org-ref": not activity.reporting_org.ref,
            "no-participating-org": not activity.participating_orgs,
            "no-funding-org": not any(p.role == "1" for p in activity.participating_orgs),
            "no-status": not activity.status,
            "no-dates": not activity.dates,
            "no-start-date": not any(d.type in ("1", "2") for d in activity.dates),
            "no-end-date": not any(d.type in ("3", "4") for d in activity.dates),
            "no-recipient": not (activity.recipient_countries or activity.recipient_regions
                                 or any(t.recipient_country for t in activity.transactions)),
            "no-location": not activity.locations,
            "no-budget": not activity.budgets,
            "no-transaction": not activity.transactions,
            "no-document-link": not activity.document_links,
        }
        sectors = activity.sectors or [s for t in activity.transactions for s in t.sectors]
        checks["no-sector"] = not sectors
        checks["sector-3-digit-only"] = bool(sectors) and all(s.vocabulary == "2"
                                                               for s in sectors)
        for code, missing in checks.items():
            if missing:
                self._hit(code, ident)
        self._hit("no-participating-org-ref", ident,
                  sum(1 for p in activity.participating_orgs if not p.ref))
        locations = activity.locations
        self._hit("no-location-point", ident, sum(1 for loc in locations
                                                  if loc.latitude is None
                                                  or loc.longitude is None))
        self._hit("no-location-reach", ident, sum(1 for loc in locations if not loc.reach))
        self._hit("no-location-administrative", ident,
                  sum(1 for loc in locations if not loc.administratives))
        self._hit("no-location-exactness", ident, sum(1 for loc in locations
                                                      if not loc.exactness))
        values = [t.value for t in activity.transactions] + [b.value for b in activity.budgets]
        self._amounts += len(values)
        if not activity.default_currency:
            self._hit("no-currency", ident, sum(1 for v in values if not v.currency))

    def finish(self) -> QualityReport:
        """The report: one finding per problem seen, in the order of PROBLEMS."""
        report = self.report
        totals = {ACTIVITY_UNIT: report.activities, ORG_UNIT: report.participating_orgs,
                  LOCATION_UNIT: report.locations, AMOUNT_UNIT: self._amounts}
        report.findings = [
            QualityFinding(code, label, self._counts[code], totals[unit], unit,
                           self._examples.get(code, []))
            for code, (label, unit) in PROBLEMS.items() if self._counts.get(code)]
        return report


def quality_report(activities: list[Activity]) -> QualityReport:
    """The quality report of a list of activities."""
    counter = QualityCounter()
    for activity in activities:
        counter.add(activity)
    return counter.finish()
