"""Demo content for a first run: pages, news, documents and meetings across the groups, and a
portfolio of aid activities (IATI) over Mali's regions."""

from __future__ import annotations

import io
import random
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import func, select

from iati.geo import regions
from iati.model import (
    Activity,
    ActivityDate,
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
from sites.accounts import create_user
from sites.documents import file_store
from sites.extensions import db
from sites.iati_mapping import from_model, publisher, town_named
from sites.models import (
    Article,
    Document,
    Group,
    IatiActivity,
    Meeting,
    Page,
    PublishState,
    Structure,
    User,
)
from sites.models.base import utcnow


@dataclass
class SeedResult:
    """The administrator's address, and its password when it was created now."""

    admin_email: str
    password: str | None


PAGES = {
    "pool-technique": [
        ("pool-technique", "Le Pool Technique des PTF",
         "Le Pool Technique est le secrétariat de coordination des partenaires techniques et "
         "financiers (PTF) du Mali. Il appuie les treize groupes thématiques, prépare les "
         "réunions de la troïka et suit les engagements sur l'efficacité de l'aide."),
        ("groupes-thematiques", "Comment fonctionnent les groupes thématiques",
         "Chaque groupe thématique réunit les partenaires d'un secteur autour d'un chef de "
         "file. Les sous-groupes approfondissent un sujet précis. Chaque groupe dispose de sa "
         "plateforme sur ce portail : actualités, documents et calendrier des réunions."),
    ],
    "ct-csclp": [
        ("ct-csclp", "La CT-CSCLP",
         "La Cellule technique du cadre stratégique assure le suivi et l'évaluation du cadre "
         "stratégique de relance économique et de développement durable, en lien avec les "
         "ministères sectoriels et les partenaires."),
    ],
    "sha": [
        ("sha", "Le Secrétariat à l'Harmonisation de l'Aide",
         "Le SHA accompagne le Gouvernement dans l'harmonisation de l'aide, la gestion de la "
         "plateforme de données sur l'aide et le dialogue avec les partenaires."),
    ],
}

NEWS_TOPICS = [
    ("Réunion mensuelle du groupe", "Le groupe a fait le point sur l'avancement des "
     "programmes et sur la préparation de la revue sectorielle annuelle."),
    ("Revue sectorielle conjointe", "La revue conjointe a réuni le ministère, les "
     "partenaires et la société civile pour examiner les résultats de l'année."),
    ("Atelier de validation du plan d'action", "Les participants ont validé le plan "
     "d'action triennal et les indicateurs de suivi."),
    ("Mission conjointe dans les régions", "Une mission conjointe s'est rendue à Ségou, "
     "Sikasso et Mopti pour rencontrer les services techniques et les collectivités."),
    ("Nouveau chef de file du groupe", "Les partenaires ont désigné le nouveau chef de file, "
     "qui assurera la coordination pour les deux prochaines années."),
    ("Publication du rapport annuel", "Le rapport annuel présente les financements, les "
     "réalisations et les défis du secteur."),
]


def minimal_pdf(title: str) -> bytes:
    """A small, valid one-page PDF showing `title` (for demo documents)."""
    text = title.encode("latin-1", "replace").replace(b"(", b"[").replace(b")", b"]")
    stream = b"BT /F1 18 Tf 60 760 Td (" + text + b") Tj ET"
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length " + str(len(stream)).encode() + b" >>\nstream\n" + stream +
        b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(f"{number} 0 obj\n".encode() + body + b"\nendobj\n")
    xref = out.tell()
    out.write(f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode())
    for offset in offsets:
        out.write(f"{offset:010d} 00000 n \n".encode())
    out.write(f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n"
              "%%EOF\n".encode())
    return out.getvalue()


def _pages() -> None:
    for position, (structure_slug, entries) in enumerate(PAGES.items()):
        structure = db.session.scalar(select(Structure).where(Structure.slug == structure_slug))
        for offset, (slug, title, body) in enumerate(entries):
            db.session.add(Page(slug=slug, title=title, summary=body.split(".")[0] + ".",
                                body_html=f"<p>{body}</p>", structure=structure,
                                position=position * 10 + offset,
                                status=PublishState.PUBLISHED, publish_at=utcnow()))


def _group_content(group: Group, rng: random.Random, author: User) -> None:
    now = utcnow()
    store = file_store()
    for n, (title, body) in enumerate(rng.sample(NEWS_TOPICS, 3)):
        when = now - timedelta(days=rng.randint(1, 200), hours=rng.randint(0, 23))
        slug = f"{group.slug}-{n + 1}"
        article = Article(slug=slug, title=f"{title} – {group.short_name}",
                          summary=body, body_html=f"<p>{body}</p><p>{group.description}</p>",
                          group=group, author=author, status=PublishState.PUBLISHED,
                          publish_at=when, featured=n == 0 and group.kind == "gt")
        db.session.add(article)
    for n, doc_type in enumerate(rng.sample(["report", "minutes", "presentation", "terms"], 2)):
        title = f"{group.short_name} – document {n + 1} ({now.year - n})"
        stored = store.save(io.BytesIO(minimal_pdf(title)), f"{group.slug}-{doc_type}.pdf")
        db.session.add(Document(
            title=title, description=f"Document de travail du {group.short_name}.",
            doc_type=doc_type, year=now.year - n, group=group, file_hash=stored.sha256,
            filename=stored.filename, mime_type=stored.mime_type, size=stored.size,
            status=PublishState.PUBLISHED, publish_at=now - timedelta(days=rng.randint(1, 300)),
            featured=n == 0 and group.kind == "gt" and rng.random() < 0.3))
    for offset in (-rng.randint(10, 60), rng.randint(3, 40)):
        start = (now + timedelta(days=offset)).replace(hour=9, minute=30, second=0,
                                                       microsecond=0)
        db.session.add(Meeting(
            title=f"Réunion du {group.short_name}", group=group,
            location="Salle de conférence du Pool Technique, Bamako",
            description="Ordre du jour : suivi des engagements, points divers.",
            starts_at=start, ends_at=start + timedelta(hours=2),
            status=PublishState.PUBLISHED, publish_at=now - timedelta(days=90)))


def seed(admin_email: str = "admin@ptf-mali.local") -> SeedResult:
    """Add demo content once (idempotent); create the administrator if there is none."""
    existing_admin = db.session.scalar(select(User).where(User.is_admin.is_(True)))
    password = None
    if existing_admin is None:
        existing_admin, password = create_user(admin_email, "Administrateur du portail",
                                               "admin", actor="seed-demo")
    seed_activities()
    if db.session.scalar(select(func.count()).select_from(Article)):
        db.session.commit()
        return SeedResult(existing_admin.email, password)
    rng = random.Random(2026)  # noqa: S311 - demo data, not security
    _pages()
    groups = db.session.scalars(select(Group).where(Group.archived.is_(False))
                                .order_by(Group.position)).all()
    for group in groups:
        _group_content(group, rng, existing_admin)
    db.session.commit()
    return SeedResult(existing_admin.email, password)


# --- Aid activities (IATI): a portfolio over Mali's regions, partners and groups ------------

#: As of this date every actual date and transaction of the demo is in the past.
DEMO_AS_OF = date(2026, 6, 30)

#: key: (org ref, IATI organisation type, French name, English name, currency, bilateral)
PARTNERS = {
    "UE": ("XI-IATI-EC_INTPA", "15", "Union européenne", "European Union", "EUR", False),
    "AFD": ("FR-3", "10", "Agence française de développement", "French Development Agency",
            "EUR", True),
    "GIZ": ("DE-1", "10", "Coopération allemande (GIZ)", "German cooperation (GIZ)", "EUR", True),
    "KFW": ("XM-DAC-5-2", "10", "KfW (Allemagne)", "KfW Development Bank (Germany)", "EUR",
            True),
    "BM": ("XM-DAC-44000", "40", "Banque mondiale", "World Bank", "USD", False),
    "UNICEF": ("XM-DAC-41122", "40", "UNICEF", "UNICEF", "USD", False),
    "PNUD": ("XM-DAC-41114", "40", "PNUD", "UNDP", "USD", False),
    "CANADA": ("XM-DAC-301-2", "10", "Affaires mondiales Canada", "Global Affairs Canada", "XOF",
               True),
    "PAYSBAS": ("XM-DAC-7", "10", "Ambassade des Pays-Bas", "Embassy of the Netherlands", "EUR",
                True),
    "SUISSE": ("CH-4", "10", "Coopération suisse (DDC)", "Swiss Agency for Development and "
               "Cooperation (SDC)", "XOF", True),
    "SUEDE": ("SE-0-SE-6-2021004724", "10", "Asdi (Suède)", "Sida (Sweden)", "USD", True),
    "DANEMARK": ("XM-DAC-3-1", "10", "Danemark (Danida)", "Denmark (Danida)", "XOF", True),
    "PAM": ("XM-DAC-41140", "40", "Programme alimentaire mondial", "World Food Programme", "USD",
            False),
    "BAD": ("XM-DAC-46002", "40", "Banque africaine de développement", "African Development "
            "Bank", "USD", False),
    "USAID": ("US-GOV-1", "10", "USAID (États-Unis)", "USAID (United States)", "USD", True),
    "OMS": ("XM-DAC-928", "40", "Organisation mondiale de la santé", "World Health Organization",
            "USD", False),
    "FAO": ("XM-DAC-41301", "40", "FAO", "Food and Agriculture Organization", "USD", False),
    "ONUFEMMES": ("XM-DAC-41146", "40", "ONU Femmes", "UN Women", "USD", False),
    "RU": ("GB-GOV-1", "10", "Royaume-Uni (FCDO)", "United Kingdom (FCDO)", "USD", True),
    "ENABEL": ("BE-BCE_KBO-0264814354", "10", "Enabel (Belgique)", "Enabel (Belgium)", "EUR",
               True),
}

#: group slug: (activities, DAC 5-digit sectors, funders, implementer fr/en, title stems fr/en)
PORTFOLIO = {
    "gt-economie-finances": (6, ["15111", "15142", "51010"], ["UE", "BM", "AFD", "BAD"],
                             ("Ministère de l'Économie et des Finances",
                              "Ministry of Economy and Finance"),
                             [("Appui à la gestion des finances publiques",
                               "Public finance management support"),
                              ("Appui budgétaire à la relance économique",
                               "Budget support for economic recovery"),
                              ("Renforcement du cadre macroéconomique",
                               "Strengthening the macroeconomic framework")]),
    "sgt-fiscalite": (4, ["15114"], ["AFD", "UE", "GIZ"],
                      ("Direction générale des Impôts", "Directorate General of Taxes"),
                      [("Mobilisation des recettes intérieures", "Domestic revenue mobilisation"),
                       ("Modernisation de l'administration fiscale",
                        "Modernising the tax administration")]),
    "sgt-marches-publics": (4, ["15111"], ["BM", "UE"],
                            ("Direction générale des Marchés publics",
                             "Directorate General of Public Procurement"),
                            [("Transparence de la commande publique",
                              "Transparent public procurement"),
                             ("Dématérialisation des marchés publics", "E-procurement")]),
    "gt-decentralisation": (6, ["15112", "15150"], ["GIZ", "UE", "SUISSE", "ENABEL"],
                            ("Ministère de l'Administration territoriale",
                             "Ministry of Territorial Administration"),
                            [("Appui aux collectivités territoriales",
                              "Support to local authorities"),
                             ("Fonds d'investissement des collectivités",
                              "Local authorities' investment fund"),
                             ("Participation citoyenne locale", "Local citizen participation")]),
    "gt-justice": (6, ["15130", "15160"], ["PAYSBAS", "UE", "PNUD", "CANADA"],
                   ("Ministère de la Justice et des Droits de l'homme",
                    "Ministry of Justice and Human Rights"),
                   [("Accès à la justice de proximité", "Access to local justice"),
                    ("Appui aux juridictions", "Support to the courts"),
                    ("Promotion des droits humains", "Promoting human rights")]),
    "gt-education": (6, ["11220", "11320", "11110"], ["CANADA", "AFD", "UNICEF", "BM", "UE"],
                     ("Ministère de l'Éducation nationale", "Ministry of National Education"),
                     [("Scolarisation des filles", "Girls' schooling"),
                      ("Construction et équipement de salles de classe",
                       "Building and equipping classrooms"),
                      ("Formation des enseignants", "Teacher training"),
                      ("Éducation en situation d'urgence", "Education in emergencies")]),
    "sgt-formation-professionnelle": (4, ["11330", "11430"], ["SUISSE", "AFD", "ENABEL"],
                                      ("Ministère de l'Emploi et de la Formation professionnelle",
                                       "Ministry of Employment and Vocational Training"),
                                      [("Formation professionnelle des jeunes",
                                        "Vocational training for young people"),
                                       ("Apprentissage dual", "Dual apprenticeship")]),
    "gt-sante": (6, ["12220", "12230", "12250", "13020"], ["OMS", "USAID", "UE", "AFD", "BM"],
                 ("Ministère de la Santé et du Développement social",
                  "Ministry of Health and Social Development"),
                 [("Soins de santé primaires", "Primary health care"),
                  ("Réhabilitation des centres de santé communautaires",
                   "Rehabilitating community health centres"),
                  ("Lutte contre le paludisme", "Malaria control"),
                  ("Santé maternelle et infantile", "Maternal and child health")]),
    "sgt-nutrition": (4, ["12240"], ["UNICEF", "UE", "PAM"],
                      ("Ministère de la Santé et du Développement social",
                       "Ministry of Health and Social Development"),
                      [("Prise en charge de la malnutrition aiguë",
                        "Treating acute malnutrition"),
                       ("Nutrition des mères et des jeunes enfants",
                        "Maternal and young child nutrition")]),
    "gt-eau-assainissement": (6, ["14031", "14032", "14020"], ["DANEMARK", "KFW", "UNICEF", "BAD"],
                              ("Direction nationale de l'Hydraulique",
                               "National Directorate of Water"),
                              [("Adduction d'eau potable", "Drinking water supply"),
                               ("Forages et pompes solaires", "Boreholes and solar pumps"),
                               ("Assainissement et hygiène", "Sanitation and hygiene")]),
    "gt-developpement-rural": (6, ["31120", "31140", "31163", "31166"],
                               ["FAO", "BM", "PAYSBAS", "KFW", "CANADA"],
                               ("Ministère de l'Agriculture", "Ministry of Agriculture"),
                               [("Aménagements hydro-agricoles", "Irrigation schemes"),
                                ("Appui aux filières agricoles", "Agricultural value chains"),
                                ("Santé animale et pastoralisme",
                                 "Animal health and pastoralism")]),
    "sgt-securite-alimentaire": (4, ["52010", "72040"], ["PAM", "UE", "USAID"],
                                 ("Commissariat à la Sécurité alimentaire",
                                  "Food Security Commission"),
                                 [("Assistance alimentaire aux ménages vulnérables",
                                   "Food assistance to vulnerable households"),
                                  ("Stocks de sécurité alimentaire", "Food security stocks")]),
    "gt-environnement": (6, ["41010", "41030", "31220"], ["SUEDE", "GIZ", "PNUD", "UE"],
                         ("Ministère de l'Environnement", "Ministry of the Environment"),
                         [("Gestion durable des forêts", "Sustainable forest management"),
                          ("Adaptation au changement climatique", "Climate change adaptation"),
                          ("Restauration des terres dégradées", "Restoring degraded land")]),
    "gt-energie-infrastructures": (6, ["23210", "23230", "23630", "21020"],
                                   ["BAD", "BM", "UE", "KFW"],
                                   ("Ministère de l'Énergie et de l'Eau",
                                    "Ministry of Energy and Water"),
                                   [("Électrification rurale solaire",
                                     "Solar rural electrification"),
                                    ("Renforcement du réseau électrique",
                                     "Strengthening the power grid"),
                                    ("Réhabilitation de routes rurales",
                                     "Rehabilitating rural roads")]),
    "gt-secteur-prive": (6, ["25010", "32130", "24030"], ["BM", "AFD", "PAYSBAS"],
                         ("Ministère de l'Industrie et du Commerce",
                          "Ministry of Industry and Trade"),
                         [("Accès au financement des PME", "Access to finance for SMEs"),
                          ("Amélioration du climat des affaires",
                           "Improving the business climate")]),
    "gt-genre": (6, ["15170", "15180"], ["ONUFEMMES", "CANADA", "SUEDE", "PAYSBAS"],
                 ("Ministère de la Promotion de la Femme", "Ministry for the Advancement of "
                  "Women"),
                 [("Autonomisation économique des femmes", "Women's economic empowerment"),
                  ("Lutte contre les violences basées sur le genre",
                   "Fighting gender-based violence")]),
    "gt-protection-sociale": (6, ["16010"], ["RU", "BM", "UNICEF", "PAM"],
                              ("Ministère de la Solidarité et de l'Action humanitaire",
                               "Ministry of Solidarity and Humanitarian Action"),
                              [("Transferts monétaires aux ménages pauvres",
                                "Cash transfers to poor households"),
                               ("Registre social unifié", "Unified social registry")]),
    "gt-culture-gouvernance-locale": (6, ["16061", "15112"], ["ENABEL", "UE", "SUISSE"],
                                      ("Ministère de la Culture", "Ministry of Culture"),
                                      [("Sauvegarde du patrimoine culturel",
                                        "Safeguarding cultural heritage"),
                                       ("Industries culturelles et créatives",
                                        "Cultural and creative industries")]),
}

#: Region (ISO 3166-2:ML) -> towns of GeoNames (name as GeoNames spells it, cercle).
DEMO_TOWNS = {
    "ML-1": [("Kayes", "Kayes"), ("Kita", "Kita"), ("Nioro", "Nioro du Sahel"),
             ("Diéma", "Diéma"), ("Bafoulabé", "Bafoulabé"), ("Yélimané", "Yélimané")],
    "ML-2": [("Koulikoro", "Koulikoro"), ("Kati", "Kati"), ("Kolokani", "Kolokani"),
             ("Banamba", "Banamba"), ("Dioïla", "Dioïla"), ("Nara", "Nara"),
             ("Kangaba", "Kangaba")],
    "ML-3": [("Sikasso", "Sikasso"), ("Koutiala", "Koutiala"), ("Bougouni", "Bougouni"),
             ("Kadiolo", "Kadiolo"), ("Yanfolila", "Yanfolila"), ("Kolondiéba", "Kolondiéba"),
             ("Yorosso", "Yorosso")],
    "ML-4": [("Ségou", "Ségou"), ("San", "San"), ("Markala", "Ségou"), ("Niono", "Niono"),
             ("Bla", "Bla"), ("Tominian", "Tominian"), ("Barouéli", "Barouéli"),
             ("Ké-Macina", "Macina")],
    "ML-5": [("Mopti", "Mopti"), ("Djenné", "Djenné"), ("Douentza", "Douentza"),
             ("Bankass", "Bankass"), ("Bandiagara", "Bandiagara"), ("Koro", "Koro"),
             ("Ténenkou", "Ténenkou"), ("Youwarou", "Youwarou")],
    "ML-6": [("Timbuktu", "Tombouctou"), ("Diré", "Diré"), ("Goundam", "Goundam"),
             ("Niafunké", "Niafunké"), ("Gourma Rharous", "Gourma-Rharous")],
    "ML-7": [("Gao", "Gao"), ("Bourem", "Bourem"), ("Ansongo", "Ansongo")],
    "ML-8": [("Kidal", "Kidal"), ("Aguelhok", "Tessalit"), ("Tessalit", "Tessalit"),
             ("Abeïbara", "Abeïbara")],
    "ML-9": [("Ménaka", "Ménaka"), ("Andéranboukan", "Andéramboukane"), ("Inékar", "Inékar")],
    "ML-10": [("Taoudenni", "Taoudénit"), ("Araouane", "Araouane")],
    "ML-BKO": [("Bamako", "District de Bamako")],
}
#: How often each region is chosen (population and presence of partners, roughly).
REGION_WEIGHTS = {"ML-BKO": 8, "ML-1": 7, "ML-2": 8, "ML-3": 8, "ML-4": 8, "ML-5": 7,
                  "ML-6": 4, "ML-7": 4, "ML-8": 2, "ML-9": 2, "ML-10": 1}
FRENCH_TOWN_NAMES = {"Timbuktu": "Tombouctou", "Taoudenni": "Taoudéni"}
REGION_CAPITALS = {"Kayes", "Koulikoro", "Sikasso", "Ségou", "Mopti", "Timbuktu", "Gao",
                   "Kidal", "Ménaka", "Taoudenni"}
PARTNER_SITES = {"AFD": "https://www.afd.fr/fr/page-region-pays/mali",
                 "BM": "https://projects.worldbank.org/fr/projects-operations/projects-list",
                 "UNICEF": "https://www.unicef.org/mali/",
                 "PNUD": "https://www.undp.org/fr/mali",
                 "UE": "https://international-partnerships.ec.europa.eu/countries/mali_fr"}
#: Commitment ranges by currency (whole units).
AMOUNTS = {"EUR": (1_500_000, 30_000_000), "USD": (2_000_000, 45_000_000),
           "XOF": (800_000_000, 15_000_000_000)}


def _demo_location(identifier: str, n: int, region: str,
                   rng: random.Random) -> tuple[Location, str]:
    """A town of the region, and its cercle."""
    town_name, cercle = rng.choice(DEMO_TOWNS[region])
    town = town_named(town_name)
    region_name = regions()[region]
    name = FRENCH_TOWN_NAMES.get(town.name, town.name)
    if region == "ML-BKO":
        feature = "PPLC"
    elif town.name in REGION_CAPITALS:
        feature = "PPLA"
    else:
        feature = "PPLA2"
    return Location(
        ref=f"{identifier}-L{n}", name={"fr": name, "en": town.name},
        description={"fr": f"Cercle de {cercle}, région de {region_name}",
                     "en": f"{cercle} cercle, {region_name} region"},
        latitude=town.latitude, longitude=town.longitude, reach=rng.choice("112"),
        exactness="2", location_class="2", feature_designation=feature,
        location_ids=[("G1", town.geonames_id)]), cercle


def _demo_dates(rng: random.Random) -> tuple[str, list[ActivityDate], date, date]:
    """Status, milestones, and the period the money flows in (up to DEMO_AS_OF)."""
    start = date(rng.randint(2018, 2026), rng.choice((1, 3, 4, 7, 10)), 1)
    end = date(start.year + rng.randint(3, 6), start.month, 1) - timedelta(days=1)
    if start > DEMO_AS_OF:
        return "1", [ActivityDate("1", start), ActivityDate("3", end)], start, start
    actual_start = start + timedelta(days=rng.randint(0, 60))
    actual_start = min(actual_start, DEMO_AS_OF)
    dates = [ActivityDate("1", start), ActivityDate("2", actual_start), ActivityDate("3", end)]
    if end <= DEMO_AS_OF:
        return "3", [*dates, ActivityDate("4", end)], actual_start, end
    status = "6" if rng.random() < 0.05 else "2"
    return status, dates, actual_start, DEMO_AS_OF


def _demo_money(key: str, currency: str, start: date, planned_end: date, flow_start: date,
                flow_end: date, finished: bool, rng: random.Random,
                implementer: OrgRef, funder: OrgRef) -> tuple[list[Budget], list[Transaction]]:
    low, high = AMOUNTS[currency]
    total = Decimal(rng.randrange(low, high, 1000 if currency != "XOF" else 1_000_000))
    years = list(range(start.year, planned_end.year + 1))
    budgets = []
    for year in years:
        period_start = max(date(year, 1, 1), start)
        period_end = min(date(year, 12, 31), planned_end)
        share = (total / len(years)).quantize(Decimal("1"))
        budgets.append(Budget(period_start, period_end, Value(share, currency, period_start),
                              "1", "2" if year <= DEMO_AS_OF.year else "1"))
    if flow_start >= flow_end:  # pipeline: no money has moved yet
        return budgets, []
    transactions = [Transaction("2", flow_start, Value(total, currency, flow_start),
                                ref=f"{key}-C", description={"fr": "Convention de financement",
                                                             "en": "Financing agreement"},
                                provider_org=funder, receiver_org=implementer)]
    elapsed = (flow_end - flow_start).days / max(1, (planned_end - flow_start).days)
    disbursed = total * Decimal(str(round(rng.uniform(0.9, 1.0) if finished
                                          else min(1.0, elapsed) * rng.uniform(0.5, 0.95), 3)))
    when = flow_start + timedelta(days=30)
    payments = []
    while when <= flow_end:
        payments.append(when)
        when += timedelta(days=rng.choice((120, 180, 240)))
    for n, paid in enumerate(payments or [flow_end]):
        amount = (disbursed / max(1, len(payments))).quantize(Decimal("1"))
        transactions.append(Transaction("3", paid, Value(amount, currency, paid),
                                        ref=f"{key}-D{n + 1}", provider_org=funder,
                                        receiver_org=implementer))
    return budgets, transactions


def _demo_activity(slug: str, n: int, spec: tuple, group: Group, rng: random.Random,
                   reporter: OrgRef) -> tuple[Activity, list[str]]:
    """One activity of a group, and the cercles of its locations (not an IATI field)."""
    _, sectors, funders, (ministry_fr, ministry_en), stems = spec
    key = rng.choice(funders)
    ref, org_type, name_fr, name_en, currency, bilateral = PARTNERS[key]
    identifier = f"{reporter.ref}-{key}-{slug.upper()}-{n:02d}"
    funder = OrgRef(ref, org_type, {"fr": name_fr, "en": name_en})
    implementer = OrgRef("", "10", {"fr": ministry_fr, "en": ministry_en})
    stem_fr, stem_en = rng.choice(stems)
    national = slug.startswith(("gt-economie", "sgt-", "gt-justice")) and rng.random() < 0.7
    region = "ML-BKO" if national else rng.choices(
        list(REGION_WEIGHTS), weights=list(REGION_WEIGHTS.values()))[0]
    region_name = regions()[region]
    other = rng.choice([r for r in DEMO_TOWNS if r not in (region, "ML-BKO")])
    places = [region] if national or rng.random() < 0.6 else [region, other]
    located = [_demo_location(identifier, k + 1, r, rng) for k, r in enumerate(places)]
    locations = [location for location, _ in located]
    status, dates, flow_start, flow_end = _demo_dates(rng)
    planned_end = next(d.iso_date for d in dates if d.type == "3")
    budgets, transactions = _demo_money(
        identifier, currency, dates[0].iso_date, planned_end, flow_start, flow_end,
        status == "3", rng, implementer, funder)
    chosen = rng.sample(sectors, k=min(len(sectors), rng.choice((1, 1, 2))))
    shares = [Decimal(100)] if len(chosen) == 1 else [Decimal(rng.choice((60, 70, 80)))]
    if len(chosen) == 2:
        shares.append(Decimal(100) - shares[0])
    where_fr = "au niveau national" if national else f"dans la région de {region_name}"
    where_en = "nationwide" if national else f"in the {region_name} region"
    orgs = [ParticipatingOrg(ref, org_type, dict(funder.name), role="1")]
    if not bilateral or rng.random() < 0.5:
        orgs.append(ParticipatingOrg(ref, org_type, dict(funder.name), role="3"))
    orgs.append(ParticipatingOrg("", "10", dict(implementer.name), role="4"))
    links = []
    if key in PARTNER_SITES and rng.random() < 0.5:
        links.append(DocumentLink(PARTNER_SITES[key], "text/html",
                                  {"fr": f"{name_fr} au Mali", "en": f"{name_en} in Mali"},
                                  ["A12"], ["fr"]))
    activity = Activity(
        identifier=identifier, reporting_org=reporter,
        title={"fr": f"{stem_fr} {where_fr}", "en": f"{stem_en} {where_en}"},
        descriptions=[
            Description("1", {"fr": f"{stem_fr} {where_fr}, financé par {name_fr} et mis en "
                                    f"œuvre avec {ministry_fr}.",
                              "en": f"{stem_en} {where_en}, funded by {name_en} and carried "
                                    f"out with the {ministry_en}."}),
            Description("2", {"fr": "Améliorer durablement l'accès des populations aux "
                                    "services de base et renforcer les institutions.",
                              "en": "Improve people's access to basic services for good and "
                                    "strengthen institutions."})],
        participating_orgs=orgs, status=status, dates=dates,
        recipient_countries=[RecipientCountry("ML", Decimal(100))], locations=locations,
        sectors=[Sector(code, "1", share) for code, share in zip(chosen, shares, strict=True)],
        budgets=budgets, transactions=transactions, document_links=links,
        default_currency=currency, default_lang="fr",
        last_updated=datetime.combine(DEMO_AS_OF, datetime.min.time(), tzinfo=UTC),
        default_aid_type=[("1", "A02" if "51010" in chosen else "C01")],
        default_finance_type="421" if key in ("BM", "BAD") and rng.random() < 0.4 else "110",
        default_flow_type="10", default_tied_status="5",
        collaboration_type="1" if bilateral else "2", group=group.slug)
    return activity, [cercle for _, cercle in located]


def seed_activities() -> int:
    """Add the demo portfolio of aid activities once; return how many were added."""
    if db.session.scalar(select(func.count()).select_from(IatiActivity)):
        return 0
    rng = random.Random(3166)  # noqa: S311 - demo data, not security
    reporter = replace(publisher(), secondary_reporter=True)
    groups = {g.slug: g for g in db.session.scalars(select(Group).where(
        Group.archived.is_(False)))}
    added = 0
    for slug, spec in PORTFOLIO.items():
        group = groups.get(slug)
        if group is None:
            continue
        for n in range(1, spec[0] + 1):
            activity, cercles = _demo_activity(slug, n, spec, group, rng, reporter)
            row = from_model(activity, group)
            for location, cercle in zip(row.locations, cercles, strict=True):
                location.cercle = cercle
            db.session.add(row)
            added += 1
    db.session.flush()
    return added
