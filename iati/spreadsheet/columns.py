"""The spreadsheet's sheets and columns: French headers, model field, type, codelist, help.

One sheet per kind of row: activities (keyed by IATI identifier), and their locations, budgets
and transactions (keyed by the activity's identifier and the row's number "N°" within it).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import cache

import pycountry

from iati.codelists import Codelist, CodelistError, load_codelist
from iati.standard import StandardMissingError, get_standard
from iati.xmlsafe import XmlError, parse_file

XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"


@dataclass(frozen=True)
class Column:
    """One column: its French header, the field it fills, its type and its rules.

    `kind` is one of identifier, group, text, code, date, amount, latitude, longitude, number,
    yesno, sectors, region, geonames. `required` columns must be filled when a row creates
    something; `codelist` names the official IATI codelist of a code column.
    """

    key: str
    header: str
    kind: str
    help: str
    required: bool = False
    codelist: str = ""
    max_length: int = 0
    example: str = ""
    upper: bool = False

    @property
    def title(self) -> str:
        """The header as the template writes it (required columns end with " *")."""
        return f"{self.header} *" if self.required else self.header


@dataclass(frozen=True)
class Sheet:
    """One sheet (or one CSV file of the ZIP)."""

    name: str
    csv_name: str
    item: str            # "lieu", "budget"… for messages
    feminine: bool
    columns: tuple[Column, ...]

    @property
    def is_child(self) -> bool:
        """True for the sheets whose rows belong to an activity (locations, budgets…)."""
        return self.name != ACTIVITIES

    def column(self, key: str) -> Column:
        """The column filling `key`."""
        return next(c for c in self.columns if c.key == key)

    def label(self, number: int | None) -> str:
        """« Lieu n° 2 », or « Nouveau lieu » when the row has no number yet."""
        if number is None:
            return f"{'Nouvelle' if self.feminine else 'Nouveau'} {self.item}"
        return f"{self.item.capitalize()} n° {number}"

    def done(self, verb: str) -> str:
        """A past participle agreed with the item: ajouté / ajoutée."""
        return verb + ("e" if self.feminine else "")


ACTIVITIES, LOCATIONS, BUDGETS, TRANSACTIONS = "Activités", "Lieux", "Budgets", "Transactions"
HELP_SHEET = "Mode d'emploi"

_ID_HELP = ("L'identifiant IATI de l'activité, tel qu'il figure dans la feuille « Activités » "
            "ou sur le portail.")
_NUMBER_HELP = ("Le numéro de la ligne dans l'activité, écrit par le portail à l'export. "
                "Laissez-le tel quel pour modifier la ligne ; laissez la case vide pour en "
                "ajouter une.")
_DELETE_HELP = ("Écrivez « oui » pour supprimer de l'activité la ligne de ce numéro ; sinon "
                "laissez vide.")
_CURRENCY_HELP = ("Code ISO 4217 de la devise (XOF, EUR, USD…). Vide : la devise de "
                  "l'activité.")


def _key_columns() -> tuple[Column, ...]:
    return (
        Column("identifier", "Identifiant de l'activité", "identifier", _ID_HELP, True,
               max_length=200, example="XM-PTF-MALI-AFD-GT-SANTE-01"),
        Column("number", "N°", "number", _NUMBER_HELP, example="1"),
        Column("delete", "Supprimer", "yesno", _DELETE_HELP, example="oui"),
    )


def _org(prefix: str, label: str, what: str) -> tuple[Column, ...]:
    return (
        Column(f"{prefix}_ref", f"{label} (référence)", "text",
               f"L'identifiant d'organisation IATI {what} (ex. XM-DAC-4-1 pour l'AFD).",
               max_length=100, example="XM-DAC-4-1"),
        Column(f"{prefix}_name", f"{label} (nom)", "text", f"Le nom {what}.", max_length=300,
               example="Agence française de développement"),
        Column(f"{prefix}_type", f"{label} (type)", "code",
               f"Le type d'organisation {what} (10 gouvernement, 40 multilatéral…).",
               codelist="OrganisationType", max_length=10, example="10"),
    )


SHEETS: dict[str, Sheet] = {
    ACTIVITIES: Sheet(ACTIVITIES, "activites.csv", "activité", True, (
        Column("identifier", "Identifiant IATI", "identifier",
               "L'identifiant unique de l'activité : le préfixe de l'organisme déclarant suivi "
               "d'un code ; sans espace ni / & | ?", True, max_length=200,
               example="XM-PTF-MALI-AFD-GT-SANTE-01"),
        Column("group", "Groupe", "group",
               "Le groupe (GT ou SGT) qui suit l'activité, par son nom court dans l'adresse "
               "du portail (ex. gt-sante). Vide pour une nouvelle activité : votre groupe.",
               max_length=80, example="gt-sante"),
        Column("title_fr", "Titre (français)", "text", "Le titre de l'activité en français.",
               True, max_length=500, example="Appui aux centres de santé de Sikasso"),
        Column("title_en", "Titre (anglais)", "text", "Le titre en anglais (facultatif).",
               max_length=500, example="Support to health centres in Sikasso"),
        Column("description_fr", "Description (français)", "text",
               "La description générale en français.", max_length=10000),
        Column("description_en", "Description (anglais)", "text",
               "La description générale en anglais (facultative).", max_length=10000),
        Column("status", "Statut", "code",
               "L'état de l'activité : 1 en préparation, 2 en cours, 3 terminée, "
               "4 clôturée, 5 annulée, 6 suspendue.", True, "ActivityStatus", 2, "2"),
        Column("planned_start", "Début prévu", "date", "La date de début prévue (JJ/MM/AAAA).",
               True, example="01/03/2024"),
        Column("actual_start", "Début effectif", "date", "La date de début réelle, si connue.",
               example="15/03/2024"),
        Column("planned_end", "Fin prévue", "date", "La date de fin prévue.",
               example="28/02/2028"),
        Column("actual_end", "Fin effective", "date", "La date de fin réelle, une fois finie."),
        Column("sectors", "Secteurs CAD", "sectors",
               "Les codes secteur CAD à 5 chiffres et leur part en %, séparés par des "
               "points-virgules : 12220:60; 12240:40. Un seul secteur : son code suffit.",
               example="12220:60; 12240:40"),
        Column("recipient_country", "Pays bénéficiaire", "code",
               "Le code ISO du pays (ML pour le Mali). Vide pour une nouvelle activité : ML.",
               codelist="Country", max_length=2, example="ML", upper=True),
        Column("default_currency", "Devise", "code",
               "La devise des montants (code ISO 4217 : XOF, EUR, USD…).", True, "Currency", 3,
               "XOF", upper=True),
        *_org("funder", "Bailleur", "du bailleur (organisme qui finance)"),
        *_org("implementer", "Mise en œuvre", "de l'organisme de mise en œuvre"),
        *_org("reporting", "Déclarant", "de l'organisme qui déclare l'activité (vide pour "
                                        "une nouvelle activité : le Pool technique)"),
        Column("aid_type", "Type d'aide", "code",
               "Type d'aide CAD (A01 appui budgétaire général, A02 sectoriel, C01 projet…).",
               codelist="AidType", max_length=10, example="C01", upper=True),
        Column("finance_type", "Type de financement", "code",
               "Type de financement (110 don, 421 prêt…).", codelist="FinanceType",
               max_length=10, example="110"),
        Column("flow_type", "Type de flux", "code", "Type de flux (10 APD…).",
               codelist="FlowType", max_length=10, example="10"),
        Column("collaboration_type", "Type de collaboration", "code",
               "1 bilatéral, 2 multilatéral…", codelist="CollaborationType", max_length=10,
               example="1"),
        Column("tied_status", "Déliement de l'aide", "code", "3 partiellement liée, 4 liée, "
               "5 non liée.", codelist="TiedStatus", max_length=10, example="5"),
    )),
    LOCATIONS: Sheet(LOCATIONS, "lieux.csv", "lieu", False, (
        *_key_columns(),
        Column("name", "Nom du lieu", "text", "Le nom de la localité ou du site.", True,
               max_length=300, example="Koutiala"),
        Column("region", "Région", "region",
               "La région du Mali, par son nom (Ségou) ou son code ISO 3166-2 (ML-4).",
               example="Sikasso"),
        Column("cercle", "Cercle", "text", "Le cercle, si connu.", max_length=100,
               example="Koutiala"),
        Column("geonames_id", "Identifiant GeoNames", "geonames",
               "Le numéro GeoNames de la localité (geonames.org), si connu : le portail en "
               "déduit le point et la région.", max_length=20, example="2454533"),
        Column("latitude", "Latitude", "latitude",
               "Latitude en degrés décimaux (WGS84), ex. 12,3917.", example="12,3917"),
        Column("longitude", "Longitude", "longitude",
               "Longitude en degrés décimaux (WGS84), négative à l'ouest de Greenwich.",
               example="-5,4642"),
        Column("exactness", "Précision", "code", "1 exacte, 2 approximative.",
               codelist="GeographicExactness", max_length=2, example="2"),
        Column("location_class", "Classe de lieu", "code",
               "1 région administrative, 2 localité, 3 structure (école, centre de santé…), "
               "4 autre.", codelist="GeographicLocationClass", max_length=2, example="2"),
        Column("reach", "Portée", "code",
               "1 l'activité se déroule ici, 2 les bénéficiaires vivent ici.",
               codelist="GeographicLocationReach", max_length=2, example="1"),
        Column("description", "Description du lieu", "text", "Une précision sur le lieu.",
               max_length=10000),
        Column("ref", "Référence du lieu", "text", "Votre propre code du lieu (facultatif).",
               max_length=200),
    )),
    BUDGETS: Sheet(BUDGETS, "budgets.csv", "budget", False, (
        *_key_columns(),
        Column("period_start", "Début de période", "date",
               "Le premier jour de la période (une année au plus).", True,
               example="01/01/2025"),
        Column("period_end", "Fin de période", "date", "Le dernier jour de la période.", True,
               example="31/12/2025"),
        Column("amount", "Montant", "amount", "Le montant, en chiffres (1 500 000 ou 1500000).",
               True, example="1500000"),
        Column("currency", "Devise", "code", _CURRENCY_HELP, codelist="Currency",
               max_length=3, example="XOF", upper=True),
        Column("value_date", "Date de valeur", "date",
               "La date du taux de change. Vide : le début de période."),
        Column("type", "Type de budget", "code", "1 initial, 2 révisé. Vide : 1.",
               codelist="BudgetType", max_length=2, example="1"),
        Column("status", "Statut du budget", "code", "1 indicatif, 2 engagé. Vide : 1.",
               codelist="BudgetStatus", max_length=2, example="2"),
    )),
    TRANSACTIONS: Sheet(TRANSACTIONS, "transactions.csv", "transaction", True, (
        *_key_columns(),
        Column("type", "Type de transaction", "code",
               "2 engagement, 3 décaissement, 4 dépense, 1 fonds reçus…", True,
               "TransactionType", 2, "3"),
        Column("transaction_date", "Date", "date", "La date de la transaction.", True,
               example="15/06/2025"),
        Column("amount", "Montant", "amount", "Le montant, en chiffres.", True,
               example="250000"),
        Column("currency", "Devise", "code", _CURRENCY_HELP, codelist="Currency",
               max_length=3, example="XOF", upper=True),
        Column("value_date", "Date de valeur", "date",
               "La date du taux de change. Vide : la date de la transaction."),
        Column("description", "Description", "text", "Ce que couvre la transaction.",
               max_length=10000),
        Column("provider_ref", "Fournisseur (référence)", "text",
               "L'identifiant IATI de l'organisme qui verse l'argent.", max_length=100),
        Column("provider_name", "Fournisseur (nom)", "text",
               "Le nom de l'organisme qui verse l'argent.", max_length=300),
        Column("receiver_ref", "Bénéficiaire (référence)", "text",
               "L'identifiant IATI de l'organisme qui reçoit l'argent.", max_length=100),
        Column("receiver_name", "Bénéficiaire (nom)", "text",
               "Le nom de l'organisme qui reçoit l'argent.", max_length=300),
        Column("ref", "Référence", "text", "Votre référence de la transaction (facultatif).",
               max_length=200),
    )),
}
CHILD_SHEETS = (LOCATIONS, BUDGETS, TRANSACTIONS)


def normalize(text: str) -> str:
    """A header or sheet name as compared: no accents, case, stars or extra spaces."""
    text = unicodedata.normalize("NFKD", str(text))
    text = "".join(c for c in text if not unicodedata.combining(c)).casefold()
    text = text.replace("’", "'").replace("‘", "'").replace("–", "-").replace("—", "-")
    text = text.replace("º", "°").replace("*", " ")
    return re.sub(r"\s+", " ", text).strip()


def sheet_named(name: str) -> Sheet | None:
    """The sheet a name designates (a sheet title or a CSV file name), if any."""
    wanted = normalize(re.sub(r"\.csv$", "", name.rsplit("/", 1)[-1], flags=re.IGNORECASE))
    for sheet in SHEETS.values():
        if wanted in (normalize(sheet.name), normalize(sheet.csv_name[:-4])):
            return sheet
    return None


# --- Mali's regions (ISO 3166-2:ML) ------------------------------------------------------


@cache
def regions() -> dict[str, str]:
    """ISO 3166-2:ML code -> region name, Bamako last."""
    found = {s.code: s.name for s in pycountry.subdivisions.get(country_code="ML")}
    return dict(sorted(found.items(), key=lambda item: (
        item[0] == "ML-BKO", int(item[0][3:]) if item[0][3:].isdigit() else 0)))


def region_code(value: str) -> str | None:
    """The ISO code of a region given by code or name (accents and case ignored)."""
    wanted = normalize(value)
    for code, name in regions().items():
        if wanted in (normalize(code), normalize(name)):
            return code
    return None


# --- Official codelists ------------------------------------------------------------------


@cache
def codelist(name: str) -> Codelist | None:
    """An official codelist, or None when the standard's files are not installed."""
    try:
        return load_codelist(name)
    except (StandardMissingError, CodelistError, XmlError):
        return None


@cache
def code_labels(name: str) -> dict[str, str]:
    """code -> French name (else English) of an official codelist, withdrawn codes left out."""
    try:
        path = get_standard().codelist(name)
        root = parse_file(path).getroot() if path.is_file() else None
    except (StandardMissingError, XmlError):
        return {}
    labels: dict[str, str] = {}
    for item in [] if root is None else root.iter("codelist-item"):
        code = (item.findtext("code") or "").strip()
        if not code or item.get("status") == "withdrawn":
            continue
        names = {n.get(XML_LANG, "en"): (n.text or "").strip()
                 for n in item.findall("name/narrative")}
        labels[code] = names.get("fr") or names.get("en", "")
    return labels
