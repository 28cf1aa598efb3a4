"""The Spanish interface is complete: every catalogue entry translated, the compiled .mo in step with the .po."""

import gettext as gnu_gettext
import re
from pathlib import Path

import pytest
from django.conf import settings
from django.test import RequestFactory
from django.utils import translation
from django.utils.translation import gettext, ngettext

from plumbing.middleware import error_page

LC_MESSAGES = Path(settings.BASE_DIR) / "locale" / "es" / "LC_MESSAGES"
PO, MO = LC_MESSAGES / "django.po", LC_MESSAGES / "django.mo"

_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\"}


def _unquote(text: str) -> str:
    """One quoted .po string ("...") to its value."""
    body = text.strip()[1:-1]
    return re.sub(r"\\(.)", lambda m: _ESCAPES.get(m.group(1), m.group(0)), body)


def parse_po(path: Path) -> list[dict]:
    """The live entries of a .po file: msgctxt, msgid, msgid_plural, msgstr / msgstr[n], flags.

    Obsolete entries (#~) are skipped; strings may run on over several quoted lines.
    """
    entries, entry, field = [], None, None

    def finish():
        if entry is not None and "msgid" in entry:
            entries.append(entry)

    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#~"):
            continue
        if line.startswith("#"):
            if field is not None and field != "comment":  # a comment after the strings starts a new entry
                finish()
                entry, field = None, None
            if entry is None:
                entry = {"flags": set(), "msgstr": {}}
            field = "comment"
            if line.startswith("#,"):
                entry["flags"].update(flag.strip() for flag in line[2:].split(","))
            continue
        if line.startswith('"'):
            value = _unquote(line)
            if isinstance(field, tuple):
                entry["msgstr"][field[1]] += value
            else:
                entry[field] += value
            continue
        keyword, _, rest = line.partition(" ")
        if keyword in ("msgctxt", "msgid") and field not in (None, "comment", "msgctxt"):
            finish()  # an entry without comments directly after the previous one
            entry = None
        if entry is None:
            entry = {"flags": set(), "msgstr": {}}
        match = re.fullmatch(r"msgstr(?:\[(\d+)\])?", keyword)
        if match:
            field = ("msgstr", int(match.group(1) or 0))
            entry["msgstr"][field[1]] = _unquote(rest)
        else:
            field = keyword
            entry[field] = _unquote(rest)
    finish()
    return entries


@pytest.fixture(scope="module")
def po_entries():
    entries = parse_po(PO)
    assert len(entries) > 100, "the parser found suspiciously few entries"
    return [e for e in entries if e["msgid"]]  # without the header


def test_every_entry_is_translated(po_entries):
    untranslated = [e["msgid"] for e in po_entries if not e["msgstr"] or any(not s for s in e["msgstr"].values())]
    assert untranslated == [], f"{len(untranslated)} untranslated: {untranslated[:10]}"


def test_no_entry_is_fuzzy(po_entries):
    # Fuzzy entries are left out of the compiled catalogue: the interface would show English.
    fuzzy = [e["msgid"] for e in po_entries if "fuzzy" in e["flags"]]
    assert fuzzy == []


def test_plural_entries_have_both_forms(po_entries):
    for e in po_entries:
        if "msgid_plural" in e:
            assert sorted(e["msgstr"]) == [0, 1], e["msgid"]


def test_placeholders_are_kept(po_entries):
    named = re.compile(r"%\((\w+)\)[sd]")
    for e in po_entries:
        if "python-format" not in e["flags"]:
            continue
        expected = set(named.findall(e["msgid"])) | set(named.findall(e.get("msgid_plural", "")))
        for text in e["msgstr"].values():
            assert set(named.findall(text)) == expected, e["msgid"]


def test_compiled_catalogue_matches_the_po(po_entries):
    with MO.open("rb") as fp:
        catalog = gnu_gettext.GNUTranslations(fp)._catalog
    from_mo = {key: value for key, value in catalog.items() if key != ""}
    from_po = {}
    for e in po_entries:
        msgid = f"{e['msgctxt']}\x04{e['msgid']}" if "msgctxt" in e else e["msgid"]
        if "msgid_plural" in e:
            from_po.update({(msgid, n): text for n, text in e["msgstr"].items()})
        else:
            from_po[msgid] = e["msgstr"][0]
    missing, stale = set(from_po) - set(from_mo), set(from_mo) - set(from_po)
    assert not missing and not stale, f"run compilemessages: {len(missing)} missing from the .mo, {len(stale)} stale"
    changed = [key for key in from_po if from_po[key] != from_mo[key]]
    assert changed == [], f"run compilemessages: {len(changed)} translations differ from the .po"


@pytest.mark.parametrize(
    "english, spanish",
    [
        ("Domain scores", "Puntajes por dominio"),  # dashboard panels
        ("Invitation funnel", "Embudo de invitaciones"),
        ("few responses: interpret with care", "pocas respuestas: interprete con cautela"),
        ("hidden", "oculto"),
        ("Practice dashboard", "Panel del consultorio"),
        ("Reports", "Informes"),  # reports page
        ("Ask for a report", "Solicitar un informe"),
        ("Patient invitations", "Invitaciones a pacientes"),  # invitations list
        ("No invitations match.", "Ninguna invitación coincide."),
        ("Thank you", "Gracias"),  # patient pages
        ("We could not find this page", "No encontramos esta página"),
    ],
)
def test_interface_strings_are_spanish(english, spanish):
    with translation.override("es"):
        assert gettext(english) == spanish


def test_plural_interface_strings_are_spanish():
    with translation.override("es"):
        one = ngettext("%(counter)s invitation, newest visit first.", "%(counter)s invitations, newest visit first.", 1)
        many = ngettext("%(counter)s invitation, newest visit first.", "%(counter)s invitations, newest visit first.", 3)
    assert one % {"counter": 1} == "1 invitación, de la consulta más reciente a la más antigua."
    assert many % {"counter": 3} == "3 invitaciones, de la consulta más reciente a la más antigua."


def test_the_429_page_is_spanish_first_for_a_spanish_speaker():
    # The 429 page does not use the catalogue (the person's language may not be known): it carries both texts.
    request = RequestFactory().get("/s/some-token/", {"lang": "es"})
    with translation.override("es"):
        html = error_page(request, "429.html", 429, minutes=2).content.decode()
    assert "Demasiadas solicitudes" in html
    assert html.index("Demasiadas solicitudes") < html.index("Too many requests")
    assert "Vuelva a intentarlo en 2 minutos" in html


def test_a_person_switches_the_interface_to_spanish_and_numbers_follow(client, manager_a, practice_a, settings):
    """The navigation bar's language form sets the language; decimals then use a comma."""
    from django.urls import reverse

    from surveys import services
    from tests import factories

    settings.AXES_ENABLED = False
    clinician = factories.member(practice_a, "clin-es", "clinician")
    new_visit = factories.visit(practice_a, clinician, "ES-1")
    invitation = factories.patient_invitation(new_visit)
    answers = factories.full_answers(invitation, 4)
    answers["P01"] = "5"
    services.submit_response(invitation, answers)
    client.force_login(manager_a)
    response = client.post(reverse("set_language"), {"language": "es", "next": "/"})
    assert response.status_code == 302
    page = client.get(reverse("practice_dashboard", args=[practice_a.slug])).content.decode()
    assert "Puntajes por dominio" in page or "Puntuaciones por dominio" in page or 'lang="es"' in page
    assert 'lang="es"' in page
    assert "," in page.split('id="panel-domains"')[1].split("</table>")[0]


@pytest.mark.parametrize("language, heading, zero_to_hundred", [
    ("en", "How to read these figures", "Each domain's score runs from 0 to 100."),
    ("es", "Cómo leer estas cifras", "La puntuación de cada dominio va de 0 a 100."),
])
def test_dashboard_and_my_relationships_explain_their_figures(
    client, manager_a, practice_a, settings, language, heading, zero_to_hundred
):
    """A family physician reads what 0-100, the indices, reliability and the funnel mean on the page itself."""
    from django.urls import reverse

    from tests import factories

    settings.AXES_ENABLED = False
    clinician = factories.member(practice_a, "clin-explained", "clinician")
    for user, url in ((manager_a, reverse("practice_dashboard", args=[practice_a.slug])),
                      (clinician, reverse("my_relationships", args=[practice_a.slug]))):
        client.force_login(user)
        client.post(reverse("set_language"), {"language": language, "next": "/"})
        page = client.get(url).content.decode()
        explainer = page.split("data-how-to-read")[1].split("</details>")[0]
        assert heading in explainer
        assert zero_to_hundred in explainer
        assert explainer.count("<dt>") == 7  # 0-100, indices, n and interval, reliability, funnel, ceiling, hidden
