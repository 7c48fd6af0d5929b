"""The directory (docs/contract.md section 6): the line, its areas, escalation windows and contacts."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import phonenumbers

from hotline import phones, reporttypes, yamlfile
from hotline.areas import Gazetteer, load_areas
from hotline.engine.config import LineInfo
from hotline.errors import ConfigError, Problem
from hotline.reporttypes import ReportTypes, parse_duration

CONTACT_KINDS = ("leader", "agency")


@dataclass(frozen=True)
class Webhook:
    """Where an agency wants reports pushed, and the variable holding its secret."""

    url: str
    secret_env: str


@dataclass(frozen=True)
class Contact:
    """A leader or agency who receives reports for some areas."""

    id: str
    name: str
    kind: str
    phone: str | None
    language: str
    areas: tuple[str, ...]
    reports: frozenset[str]
    email: str | None = None
    webhook: Webhook | None = None
    api_token_env: str | None = None
    line: int = 0


@dataclass(frozen=True)
class ClusterRule:
    """When reports that name one recruiter make a cluster (`clusters:`): at least `reports` of an
    agency's reports within the last `days` days."""

    reports: int = 3
    days: int = 30


DEFAULT_CLUSTERS = ClusterRule()
"""The rule when the directory has no `clusters:` (the contract's example)."""


@dataclass
class Directory:
    """A loaded, validated directory."""

    path: str
    line: LineInfo
    gazetteer: Gazetteer
    escalation: dict[str, int]
    contacts: tuple[Contact, ...]
    types: ReportTypes = field(default_factory=ReportTypes)
    """The report types of flows.yaml, which the directory was checked against."""
    clusters: ClusterRule = DEFAULT_CLUSTERS
    """When linked reports make a cluster that their agency is told of."""
    warnings: list[Problem] = field(default_factory=list)

    def __post_init__(self):
        self._by_phone = {c.phone: c for c in self.contacts if c.phone}
        self._by_id = {c.id: c for c in self.contacts}

    def contact_by_phone(self, e164: str | None) -> Contact | None:
        """The contact with this number, if any."""
        return self._by_phone.get(e164) if e164 else None

    def contact(self, contact_id: str) -> Contact | None:
        """The contact with this id, if any."""
        return self._by_id.get(contact_id)


def load_directory(path: str | Path, types: ReportTypes | None = None) -> Directory:
    """Load and validate the directory against the report types (by default those of the shipped
    config/flows.yaml); raise ConfigError listing every error with its line."""
    if types is None:
        from hotline.settings import ROOT

        types = reporttypes.load(ROOT / "config")
    path = Path(path)
    file = str(path)
    raw = yamlfile.load(path)
    problems: list[Problem] = []
    if not isinstance(raw, dict):
        raise ConfigError([Problem(file, 1, "must be a mapping with hotline, areas, escalation and contacts")])
    for key, line in raw.duplicates:
        problems.append(Problem(file, line, f"{key!r} is given twice"))
    line_info = _line_info(raw.get("hotline"), raw, file, problems)
    gazetteer = Gazetteer([])
    areas_ref = raw.get("areas")
    if not isinstance(areas_ref, str) or not areas_ref.strip():
        problems.append(Problem(file, raw.line_of("areas"), "areas: the path of the areas CSV is required"))
    else:
        try:
            gazetteer = load_areas(path.parent / areas_ref)
        except ConfigError as exc:
            problems.extend(exc.problems)
    escalation = _escalation(raw.get("escalation"), raw, file, types, problems)
    contacts = _contacts(raw.get("contacts"), raw, file, line_info, gazetteer, types, problems)
    clusters = _clusters(raw.get("clusters"), raw, file, problems)
    if problems:
        raise ConfigError(problems)
    directory = Directory(file, line_info, gazetteer, escalation, tuple(contacts), types, clusters)
    problems = unreached_types(directory)
    if problems:
        raise ConfigError(problems)
    directory.warnings = coverage_gaps(directory)
    return directory


def _line_info(section, raw, file: str, problems: list[Problem]) -> LineInfo:
    """The `hotline:` section."""
    if not isinstance(section, dict):
        problems.append(Problem(file, raw.line_of("hotline"), "hotline: a mapping with name, country and languages is required"))
        return LineInfo("", ("en",), ("en",), ())
    name = section.get("name")
    if not isinstance(name, str) or not name.strip():
        problems.append(Problem(file, section.line_of("name"), "hotline.name is required"))
        name = ""
    country = str(section.get("country") or "")
    if country not in phonenumbers.SUPPORTED_REGIONS:
        problems.append(Problem(file, section.line_of("country"), f"hotline.country {country!r} is not a country code like KH"))
    languages = section.get("languages")
    if not isinstance(languages, list) or not languages or not all(isinstance(x, str) and x for x in languages):
        problems.append(Problem(file, section.line_of("languages"), "hotline.languages must list at least one language code"))
        languages = ["en"]
    ussd = section.get("ussd_languages", languages)
    if not isinstance(ussd, list) or not ussd or any(x not in languages for x in ussd):
        problems.append(Problem(file, section.line_of("ussd_languages"), "hotline.ussd_languages must be some of hotline.languages"))
        ussd = languages
    emergency = section.get("emergency_numbers")
    if not isinstance(emergency, list) or not emergency or not all(re.fullmatch(r"\+?\d{2,15}", str(x)) for x in emergency):
        problems.append(Problem(file, section.line_of("emergency_numbers"), "hotline.emergency_numbers must list numbers like \"117\""))
        emergency = []
    return LineInfo(name.strip(), tuple(languages), tuple(ussd), tuple(str(x) for x in emergency), country or "KH")


def _escalation(section, raw, file: str, types: ReportTypes, problems: list[Problem]) -> dict[str, int]:
    """Escalation windows in seconds for every report type: flows.yaml's, unless the directory sets one."""
    result = {t.name: t.escalation for t in types.values()}
    if section is None:
        return result
    if not isinstance(section, dict):
        problems.append(Problem(file, raw.line_of("escalation"), "escalation: must map report types to durations"))
        return result
    for type_, value in section.items():
        line = section.line_of(type_)
        if type_ not in types:
            problems.append(Problem(file, line, f"escalation.{type_}: unknown report type (known: {', '.join(types)})"))
            continue
        seconds = parse_duration(value)
        if not seconds:
            problems.append(Problem(file, line, f"escalation.{type_}: {value!r} is not a duration like 10m, 2h or 1d"))
            continue
        result[type_] = seconds
    return result


MAX_CLUSTER_DAYS = 3660
"""The longest window a cluster may span (ten years: anything longer is a typing slip)."""


def _clusters(section, raw, file: str, problems: list[Problem]) -> ClusterRule:
    """The `clusters:` section: {reports: at least 2, days: 1 to MAX_CLUSTER_DAYS}, both whole numbers."""
    if section is None:
        return DEFAULT_CLUSTERS
    if not isinstance(section, dict):
        problems.append(Problem(file, raw.line_of("clusters"), "clusters: must be a mapping like {reports: 3, days: 30}"))
        return DEFAULT_CLUSTERS
    for key in section:
        if key not in ("reports", "days"):
            problems.append(Problem(file, section.line_of(key), f"clusters.{key}: unknown (known: reports, days)"))
    reports, days = section.get("reports", DEFAULT_CLUSTERS.reports), section.get("days", DEFAULT_CLUSTERS.days)
    if isinstance(reports, bool) or not isinstance(reports, int) or reports < 2:
        problems.append(Problem(file, section.line_of("reports"),
                                f"clusters.reports: {reports!r} must be a whole number of reports, at least 2"))
        reports = DEFAULT_CLUSTERS.reports
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= MAX_CLUSTER_DAYS:
        problems.append(Problem(file, section.line_of("days"),
                                f"clusters.days: {days!r} must be a whole number of days from 1 to {MAX_CLUSTER_DAYS}"))
        days = DEFAULT_CLUSTERS.days
    return ClusterRule(reports, days)


def _contacts(items, raw, file: str, line_info: LineInfo, gazetteer: Gazetteer, types: ReportTypes,
              problems: list[Problem]) -> list[Contact]:
    """Every contact, each checked field by field."""
    if not isinstance(items, list):
        problems.append(Problem(file, raw.line_of("contacts"), "contacts: a list of leaders and agencies is required"))
        return []
    contacts: list[Contact] = []
    seen_ids: dict[str, int] = {}
    for item in items:
        if not isinstance(item, dict):
            problems.append(Problem(file, raw.line_of("contacts"), "each contact must be a mapping"))
            continue
        err = lambda key, msg: problems.append(Problem(file, item.line_of(key), msg))  # noqa: E731
        cid = str(item.get("id") or "").strip()
        label = f"contact {cid or '(no id)'}"
        if not cid:
            err("id", "contact: id is required")
        elif cid in seen_ids:
            err("id", f"{label}: duplicate id (first at line {seen_ids[cid]})")
        else:
            seen_ids[cid] = item.line
        kind = item.get("kind")
        if kind not in CONTACT_KINDS:
            err("kind", f"{label}: kind must be leader or agency")
        phone = None
        if item.get("phone") not in (None, ""):
            phone = phones.normalise(str(item["phone"]), line_info.country)
            if phone is None or not phonenumbers.is_valid_number(phonenumbers.parse(phone)):
                err("phone", f"{label}: phone {item['phone']!r} is not a phone number")
                phone = None
        elif kind == "leader":
            err("phone", f"{label}: a leader needs a phone for alerts")
        language = item.get("language") or line_info.languages[0]
        if language not in line_info.languages:
            err("language", f"{label}: language {language!r} is not one of hotline.languages")
        areas = item.get("areas")
        if not isinstance(areas, list) or not areas:
            err("areas", f"{label}: areas must list at least one area code")
            areas = []
        areas = [str(a) for a in areas]
        for code in areas:
            if len(gazetteer) and code not in gazetteer:
                err("areas", f"{label}: unknown area code {code!r}")
        reports = item.get("reports", list(types))
        if not isinstance(reports, list) or not reports or any(r not in types for r in reports):
            err("reports", f"{label}: reports must list some of {', '.join(types)} (the types of flows.yaml)")
            reports = []
        webhook = None
        if item.get("webhook") is not None:
            hook = item["webhook"]
            if not isinstance(hook, dict) or not re.match(r"^https?://[^\s/]+", str(hook.get("url", ""))) \
                    or not re.fullmatch(r"[A-Z][A-Z0-9_]*", str(hook.get("secret_env", ""))):
                err("webhook", f"{label}: webhook needs url (http or https) and secret_env (a variable name)")
            else:
                webhook = Webhook(hook["url"], hook["secret_env"])
        token_env = item.get("api_token_env")
        if token_env is not None and not re.fullmatch(r"[A-Z][A-Z0-9_]*", str(token_env)):
            err("api_token_env", f"{label}: api_token_env must be an environment variable name")
        email = item.get("email")
        if email is not None and not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", str(email)):
            err("email", f"{label}: email {email!r} is not an address")
        if kind != "agency" and (webhook or token_env):
            err("kind", f"{label}: only agencies have webhooks or API tokens")
        contacts.append(Contact(cid, str(item.get("name") or cid), str(kind), phone, language, tuple(areas),
                                frozenset(reports), email, webhook, token_env, item.line))
    by_phone: dict[str, str] = {}
    for c in contacts:
        if c.phone and c.phone in by_phone:
            problems.append(Problem(file, c.line, f"contact {c.id}: same phone as {by_phone[c.phone]}"))
        elif c.phone:
            by_phone[c.phone] = c.id
    return contacts


def unreached_types(directory: Directory) -> list[Problem]:
    """Errors for report types that no leader or agency anywhere takes: such a report would be
    stored, its reporter told it was received, and nobody would ever hear of it."""
    taken = {type_ for c in directory.contacts for type_ in c.reports if c.areas}
    return [Problem(directory.path, None, f"no contact takes {type_} reports: add it to the reports of a leader "
                                          "or agency (contacts without reports: take every type)")
            for type_ in directory.types if type_ not in taken]


@dataclass(frozen=True)
class Gap:
    """Reports of `type` from `area` reach nobody: from anywhere in it (`whole`), or only those placed
    at the area itself (its coarser answer, when the reporter did not know the place below)."""

    type: str
    area: str
    whole: bool


def gaps(directory: Directory) -> list[Gap]:
    """Every area where some type of report would reach no leader or agency, type by type, provinces
    first and deeper areas only where part of the one above is covered."""
    found: list[Gap] = []
    gaz = directory.gazetteer
    for type_ in directory.types:
        covered = {code for c in directory.contacts if type_ in c.reports for code in c.areas if code in gaz}
        reached = {a.code for code in covered for a in gaz.path(code)}  # covered areas and their ancestors

        def walk(area) -> None:
            if area.code in covered:
                return
            below = gaz.children(area.code)
            if not any(a.code in reached for a in below):
                found.append(Gap(type_, area.code, True))
                return
            found.append(Gap(type_, area.code, False))
            for child in below:
                walk(child)

        for province in gaz.children(None):
            walk(province)
    return found


def coverage_gaps(directory: Directory) -> list[Problem]:
    """Warnings for areas where some type of report would reach no leader or agency (`gaps`, in words)."""
    gaz = directory.gazetteer
    warnings = []
    for gap in gaps(directory):
        area = gaz.get(gap.area)
        if gap.whole:
            words = f"{gap.type} reports from {area.name_en} ({area.code}) and everything in it reach nobody"
        else:
            words = f"{gap.type} reports placed only at {area.level} {area.name_en} ({area.code}) reach nobody"
        warnings.append(Problem(directory.path, None, words))
    return warnings
