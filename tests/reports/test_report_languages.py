"""The report in each interface language: one HTML file per language from the same figures, the reader's own
served, the CSVs a data interface in English whatever the language of whoever asked."""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import include, path, reverse
from django.utils import timezone, translation

from figures import queries
from reports import builders, services
from reports.models import Report
from tests.reports.helpers import period, read_html, read_zip

urlpatterns = [path("", include("front.report_urls")), path("", include("healing.urls"))]
pytestmark = pytest.mark.urls(__name__)


def spanish_html(report: Report) -> str:
    return services.report_file(report, "html", language="es").read_text(encoding="utf-8")


def numbers(html: str) -> list[str]:
    """Every number of the report's tables, in order."""
    return re.findall(r'<td class="num">([^<]*)', html)


def test_a_report_is_written_in_spanish_too(build, scored_practice):  # noqa: F811
    report = build(scored_practice)

    spanish = spanish_html(report)

    assert '<html lang="es">' in spanish
    for words in ("Resumen", "Métodos", "Puntajes por dominio", "Visiones del paciente y del profesional",
                  "Los puntos dentro de la banda difieren por azar", "Los puntajes van de 0 a 100", "Ocultación y cautela",
                  "Visión propia frente a la de los pacientes", "Invitaciones a pacientes enviadas",
                  "oculto: menos de 5 díadas", "pocas respuestas: interprete con cautela",
                  "informe del consultorio"):
        assert words in spanish, words
    for words in ("Summary", "Domain scores", "Each dyad counts once per month", "Own view against the patients'",
                  "hidden: fewer than"):
        assert words not in spanish, words


def test_the_english_file_stays_english(build, scored_practice):  # noqa: F811
    english = read_html(build(scored_practice))

    assert '<html lang="en">' in english
    assert "Summary" in english and "Domain scores" in english and "hidden: fewer than 5 dyads" in english
    assert "Resumen" not in english and "díadas" not in english


def test_both_languages_show_the_same_figures_each_with_its_own_decimal_mark(build, scored_practice):  # noqa: F811
    report = build(scored_practice)

    english, spanish = numbers(read_html(report)), numbers(spanish_html(report))

    assert any("." in n for n in english)
    assert not any("," in n for n in english)
    assert not any("." in n for n in spanish)
    assert spanish == [n.replace(".", ",") for n in english]


def test_the_files_are_the_same_whichever_language_the_requester_chose(build, scored_practice,  # noqa: F811
                                                                       clinician_a):
    with translation.override("es"):  # tasks run eagerly in the requester's thread here
        report = build(scored_practice, kind=Report.Kind.CLINICIAN, clinician=clinician_a)

    english, spanish = read_html(report), spanish_html(report)
    assert '<html lang="en">' in english and "Patients' view" in english and "Visión" not in english
    assert '<html lang="es">' in spanish and "Visión de los pacientes" in spanish
    notes = {row["note"] for row in read_zip(report)["domains.csv"]}
    assert any(note.startswith("few responses") for note in notes)
    assert not any("díadas" in note or "pocas respuestas" in note for note in notes)


def test_the_zip_keeps_english_file_and_column_names(build, scored_practice):  # noqa: F811
    files = read_zip(build(scored_practice))

    assert set(builders.CSV_COLUMNS) | {"codebook.csv"} == set(files)
    assert list(files["domains.csv"][0]) == builders.CSV_COLUMNS["domains.csv"]
    assert files["codebook.csv"][0]["meaning"] == "whose figure: the whole practice, or one clinician"


def test_the_second_language_reads_nothing_again(eager, scored_practice, clinician_a, settings):  # noqa: F811
    """Rendered twice from one read: counted with one language and with two inside the same kind of block."""
    start, end = period()
    report = Report.objects.create(practice=scored_practice, start=start, end=end, status=Report.Status.DONE,
                                   requested_at=timezone.now())

    def reads(languages) -> int:
        settings.LANGUAGES = languages
        with CaptureQueriesContext(connection) as captured, queries.shared_reads():
            parts = [builders.clinician_part_in_each_language(report, clinician_a)]
            builders.build_files(report, parts)
        return len(captured.captured_queries)

    assert reads([("en", "English"), ("es", "Español")]) == reads([("en", "English")])


def test_fmt_writes_the_active_languages_decimal_mark():
    with translation.override("en"):
        assert (builders.fmt(72.46), builders.fmt(1.0, sign=True), builders.fmt(-0.04, sign=True)) == (
            "72.5", "+1.0", "+0.0")
    with translation.override("es"):
        assert (builders.fmt(72.46), builders.fmt(1.0, sign=True), builders.fmt(-1.25, sign=True)) == (
            "72,5", "+1,0", "-1,2")
    assert builders.fmt(None) == "—" and builders.fmt(12) == "12"


# --- the reader's language ------------------------------------------------------------------------------


def download(report):
    return reverse("report_download", args=[report.practice.slug, report.pk, "html"])


def downloaded(response) -> str:
    return b"".join(response.streaming_content).decode("utf-8")


def test_a_reader_who_chose_spanish_gets_the_spanish_report(client, build, scored_practice, manager_a):  # noqa: F811
    report = build(scored_practice)
    client.force_login(manager_a)
    client.post(reverse("set_language"), {"language": "es", "next": "/"})

    response = client.get(download(report))

    assert response.status_code == 200
    assert services.report_file(report, "html", language="es").name in response["Content-Disposition"]
    assert '<html lang="es">' in downloaded(response)


def test_any_other_reader_gets_the_english_report(client, build, scored_practice, manager_a):  # noqa: F811
    report = build(scored_practice)
    client.force_login(manager_a)

    response = client.get(download(report))

    assert services.report_file(report, "html").name in response["Content-Disposition"]
    assert ".es.html" not in response["Content-Disposition"]
    assert '<html lang="en">' in downloaded(response)


def test_a_report_built_before_it_was_bilingual_is_served_in_english(client, build, scored_practice,  # noqa: F811
                                                                     manager_a):
    report = build(scored_practice)
    services.report_file(report, "html", language="es").unlink()
    client.force_login(manager_a)
    client.post(reverse("set_language"), {"language": "es", "next": "/"})

    response = client.get(download(report))

    assert response.status_code == 200
    assert '<html lang="en">' in downloaded(response)


def test_a_part_stored_before_reports_were_bilingual_still_renders():
    assert builders.section_html({"html": "<article>old</article>"}) == "<article>old</article>"
    with translation.override("es"):
        assert builders.section_html({"html": {"en": "en", "es": "es"}}) == "es"
        assert builders.section_html({"html": {"en": "en"}}) == "en"


def test_the_ready_email_stays_english_whoever_asked(build, scored_practice, mailoutbox):  # noqa: F811
    with translation.override("es"):
        build(scored_practice)

    assert mailoutbox[0].subject.startswith("Healing: Practice A: practice report, ")
    assert "informe" not in mailoutbox[0].body
