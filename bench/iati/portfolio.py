"""A synthetic, deterministic portfolio of IATI activities in Mali, built with `iati.model`.

Activity number i depends only on (seed, i): the first 10,000 activities of a 100,000-activity
portfolio are the 10,000-activity portfolio. Each activity looks like what the secretariat's
partners publish: a reporting donor, two or three participating organisations, one to three
sectors summing to 100 %, one to three places in Mali, a budget per calendar year, and a
commitment followed by disbursements and expenditures. Every code comes from the official 2.03
codelists and every date is in the past. About one activity in a hundred carries one of the
mistakes publishers make (a date in the future, sector shares not adding up to 100 %, a budget
period longer than a year, an unknown sector code): the file stays valid against the XSD, so
every check runs to the end, and the validator has findings to report.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from iati.model import (
    Activity,
    ActivityDate,
    Administrative,
    Budget,
    Description,
    DocumentLink,
    Location,
    OrgRef,
    ParticipatingOrg,
    RecipientCountry,
    Sector,
    Transaction,
    Value,
)

GENERATED = datetime(2026, 1, 15, 6, 0, tzinfo=UTC)
ERROR_RATE = 0.01  # activities with one publisher's mistake
LAST_DAY = date(2025, 12, 31)  # nothing happens after this day: no "date in the future" finding

# (org-id, IATI organisation type, French name): donors publishing with OECD DAC ids
DONORS = [
    ("XM-DAC-7", "10", "Ambassade des Pays-Bas"),
    ("XM-DAC-10-1", "10", "Asdi (Suède)"),
    ("XM-DAC-5-7", "10", "Coopération allemande (GIZ)"),
    ("XM-DAC-6-4", "10", "Agence française de développement"),
    ("XM-DAC-11-1", "10", "Coopération suisse (DDC)"),
    ("XM-DAC-918-3", "15", "Union européenne"),
    ("XM-DAC-41114", "40", "PNUD"),
    ("XM-DAC-44000", "40", "Banque mondiale"),
    ("XM-DAC-46002", "40", "Banque africaine de développement"),
    ("XM-DAC-41122", "40", "UNICEF"),
]
PARTNERS = [
    ("ML-NIF-086100001A", "10", "Ministère de l'Économie et des Finances"),
    ("ML-NIF-086100002B", "10", "Ministère de la Santé et du Développement social"),
    ("ML-NIF-086100003C", "10", "Ministère de l'Éducation nationale"),
    ("ML-NIF-086100004D", "10", "Ministère de l'Agriculture"),
    ("ML-NIF-086100005E", "10", "Direction nationale de l'Hydraulique"),
    ("ML-NIF-087200011F", "22", "Association malienne pour la survie au Sahel"),
    ("ML-NIF-087200012G", "22", "Réseau des femmes rurales de Ségou"),
    ("ML-CCIM-0412", "70", "Chambre de commerce et d'industrie du Mali"),
    ("XM-DAC-21016", "21", "Comité international de la Croix-Rouge"),
]
# (DAC 5-digit code, French title words)
SECTORS = [
    ("11220", "Enseignement primaire"), ("11330", "Formation professionnelle"),
    ("12220", "Soins de santé de base"), ("12240", "Nutrition de base"),
    ("13020", "Santé de la reproduction"), ("14030", "Eau potable et assainissement"),
    ("14031", "Adduction d'eau potable"), ("15110", "Gestion des finances publiques"),
    ("15130", "Justice"), ("31120", "Développement agricole"),
    ("31140", "Irrigation"), ("31161", "Cultures vivrières"), ("23230", "Énergie solaire"),
    ("21020", "Pistes rurales"), ("43040", "Développement rural"),
    ("72010", "Aide humanitaire"), ("16010", "Protection sociale"),
]
# (place, region, latitude, longitude, IATI feature designation)
PLACES = [
    ("Bamako", "District de Bamako", 12.65, -8.0, "PPLC"),
    ("Kayes", "Kayes", 14.4469, -11.4445, "PPLA"),
    ("Kita", "Kayes", 13.0388, -9.4882, "PPLA2"),
    ("Koulikoro", "Koulikoro", 12.8627, -7.5599, "PPLA"),
    ("Sikasso", "Sikasso", 11.3176, -5.6665, "PPLA"),
    ("Koutiala", "Sikasso", 12.3917, -5.4642, "PPLA2"),
    ("Bougouni", "Sikasso", 11.4177, -7.4832, "PPLA2"),
    ("Ségou", "Ségou", 13.4317, -6.2157, "PPLA"),
    ("Niono", "Ségou", 14.2526, -5.9931, "PPLA2"),
    ("San", "Ségou", 13.3034, -4.8956, "PPLA2"),
    ("Mopti", "Mopti", 14.4843, -4.1827, "PPLA"),
    ("Djenné", "Mopti", 13.9061, -4.5533, "PPLA2"),
    ("Bandiagara", "Mopti", 14.3501, -3.6104, "PPLA2"),
    ("Tombouctou", "Tombouctou", 16.7735, -3.0074, "PPLA"),
    ("Gao", "Gao", 16.2717, -0.0447, "PPLA"),
    ("Kidal", "Kidal", 18.4411, 1.4078, "PPLA"),
]
ACTIONS = ["Appui au secteur", "Renforcement du secteur", "Programme national, secteur",
           "Projet sectoriel", "Initiative pour le secteur"]


def _split(rng: random.Random, parts: int) -> list[Decimal]:
    """`parts` whole percentages summing to exactly 100."""
    if parts == 1:
        return [Decimal(100)]
    cuts = sorted(rng.sample(range(5, 96, 5), parts - 1))
    bounds = [0, *cuts, 100]
    return [Decimal(bounds[k + 1] - bounds[k]) for k in range(parts)]


def _amount(rng: random.Random, low: int, high: int) -> Decimal:
    """A round amount in CFA francs (to the thousand)."""
    return Decimal(rng.randrange(low // 1000, high // 1000) * 1000)


def activity(seed: int, number: int, error_rate: float = ERROR_RATE) -> Activity:
    """Activity `number` of the portfolio `seed` (the same whatever the portfolio's size)."""
    rng = random.Random(f"ptfops-bench:{seed}:{number}")
    donor_ref, donor_type, donor_name = DONORS[number % len(DONORS)]
    donor = OrgRef(donor_ref, donor_type, {"fr": donor_name})
    partner_ref, partner_type, partner_name = rng.choice(PARTNERS)
    partner = OrgRef(partner_ref, partner_type, {"fr": partner_name})
    chosen = rng.sample(SECTORS, rng.choice((1, 2, 2, 3)))
    places = rng.sample(PLACES, rng.choice((1, 1, 2, 3)))
    subject = chosen[0][1].lower()
    title = f"{rng.choice(ACTIONS)} « {subject} » à {places[0][0]}"

    start = date(2016, 1, 1) + timedelta(days=rng.randrange(0, 9 * 365))
    planned_end = start + timedelta(days=rng.randrange(2 * 365, 6 * 365))
    finished = planned_end <= LAST_DAY
    dates = [ActivityDate("1", start - timedelta(days=rng.randrange(30, 180))),
             ActivityDate("2", start), ActivityDate("3", planned_end)]
    if finished:
        dates.append(ActivityDate("4", planned_end))
    last = min(planned_end, LAST_DAY)

    total = _amount(rng, 200_000_000, 12_000_000_000)
    budgets = []
    year = start.year
    while year <= planned_end.year and len(budgets) < 5:
        begin, end = max(start, date(year, 1, 1)), min(planned_end, date(year, 12, 31))
        budgets.append(Budget(begin, end, Value(
            (total / (planned_end.year - start.year + 1)).quantize(Decimal(1)), "XOF", begin),
            type="1", status="2"))
        year += 1

    transactions = [Transaction(
        "2", start, Value(total, "XOF", start), ref=f"{number}-C1",
        description={"fr": "Signature de la convention de financement"},
        provider_org=donor, receiver_org=partner)]
    paid = start
    step = 0
    while len(transactions) < 8:
        paid += timedelta(days=rng.randrange(120, 365))
        if paid > last:
            break
        step += 1
        amount = (total * Decimal(rng.randrange(5, 20)) / 100).quantize(Decimal(1))
        transactions.append(Transaction(
            "3", paid, Value(amount, "XOF", paid), ref=f"{number}-D{step}",
            description={"fr": f"Décaissement n° {step}"},
            provider_org=donor, receiver_org=partner))
        if rng.random() < 0.3:
            spent = paid + timedelta(days=rng.randrange(10, 60))
            if spent <= last:
                transactions.append(Transaction(
                    "4", spent, Value((amount * Decimal("0.9")).quantize(Decimal(1)), "XOF",
                                      spent), ref=f"{number}-E{step}",
                    description={"fr": f"Dépenses du décaissement n° {step}"}))

    result = Activity(
        identifier=f"{donor_ref}-ML-{number:06d}",
        reporting_org=donor,
        title={"fr": title, "en": f"{title} (Mali)"} if number % 3 == 0 else {"fr": title},
        descriptions=[Description("1", {"fr": f"{title}. Activité n° {number} du portefeuille "
                                        f"des partenaires techniques et financiers au Mali."}),
                      *([Description("2", {"fr": f"Améliorer durablement {subject}."})]
                        if rng.random() < 0.5 else [])],
        participating_orgs=[
            ParticipatingOrg(donor_ref, donor_type, {"fr": donor_name}, role="1"),
            ParticipatingOrg(donor_ref, donor_type, {"fr": donor_name}, role="3"),
            ParticipatingOrg(partner_ref, partner_type, {"fr": partner_name}, role="4"),
        ],
        status="4" if finished else "2",
        dates=dates,
        recipient_countries=[RecipientCountry("ML", Decimal(100))],
        locations=[Location(
            ref=f"{donor_ref}-ML-{number:06d}-L{k + 1}",
            name={"fr": name}, description={"fr": f"Cercle de {name}, région de {region}"},
            latitude=lat, longitude=lon, reach="1", exactness="2", location_class="2",
            feature_designation=feature,
            administratives=[Administrative("A4", "ML", 0)])
            for k, (name, region, lat, lon, feature) in enumerate(places)],
        sectors=[Sector(code, "1", share)
                 for (code, _), share in zip(chosen, _split(rng, len(chosen)), strict=True)],
        budgets=budgets,
        transactions=transactions,
        document_links=[DocumentLink(
            f"https://ptf-mali.example/documents/{number}.pdf", "application/pdf",
            {"fr": "Document de projet"}, ["A02"], ["fr"], start)] if number % 4 == 0 else [],
        default_currency="XOF",
        default_lang="fr",
        last_updated=datetime(2025, 9, 1, tzinfo=UTC) + timedelta(minutes=number),
        default_aid_type=[("1", "C01")],
        default_finance_type="110",
        default_flow_type="10",
        default_tied_status="5",
        collaboration_type="1" if donor_type == "10" else "2",
    )
    mistakes = random.Random(f"ptfops-bench-mistakes:{seed}:{number}")
    if mistakes.random() < error_rate:
        _mistake(result, mistakes)
    return result


def _mistake(activity: Activity, rng: random.Random) -> None:
    """One mistake a publisher makes, still valid against the XSD."""
    kind = rng.randrange(4)
    if kind == 0:  # a disbursement dated in the future (11.2.1, 11.2.2)
        last = activity.transactions[-1]
        last.transaction_date = date(2031, 6, 30)
        last.value.value_date = date(2031, 6, 30)
    elif kind == 1:  # sector shares adding up to 90 % (2.1.2; 2.1.4 or 12.3.1 at times)
        activity.sectors[0].percentage -= 10
    elif kind == 2:  # a budget covering two years (7.5.3)
        first = activity.budgets[0]
        first.period_end = first.period_start + timedelta(days=730)
    else:  # a sector code that is not in the DAC list (9.76.1, a warning)
        activity.sectors[-1].code = "99999"


def portfolio(count: int, seed: int = 1, error_rate: float = ERROR_RATE) -> Iterator[Activity]:
    """`count` activities, built lazily one at a time (memory stays flat)."""
    for number in range(1, count + 1):
        yield activity(seed, number, error_rate)
