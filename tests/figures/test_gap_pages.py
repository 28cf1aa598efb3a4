"""Gaps as a clinician sees them: the spread of their waves' gaps beside the mean, judged item by item from
instrument 1.1 and by the labelled domain rule for 1.0 (docs/measurement.md, "Gaps")."""

import pytest
from django.urls import reverse

from figures.figure import HIDDEN
from measurement.instruments import spec_for_version
from surveys import services
from surveys.domains import SHARED_DOMAINS, domain_label
from tests import factories
from tests.figures.test_suppression import read_page, rows_as_dicts, signed_in

ITEM_PAIRS = "item pairs, beyond measurement error (instrument 1.1)"
DOMAIN_RULE = "domain rule (instrument 1.0)"
BANDS = ("Me lower, beyond error", "Within error", "Me higher, beyond error")


@pytest.fixture(autouse=True)
def quiet_sign_ins(settings):
    settings.AXES_ENABLED = False


def wave(practice, clinician, reference, clinician_value, patient_value, *, shared=False):
    return factories.answered_wave(practice, clinician, reference, clinician_value, patient_value, shared=shared)


def six_waves_two_in_each_band(practice, clinician):
    """Two waves one step apart (Strongly agree against Agree), two with the clinician two steps higher, two with
    the clinician two steps lower: a mean gap of +8.3 that hides gaps both ways."""
    for i, (mine, theirs) in enumerate([(5, 4), (5, 4), (5, 3), (5, 3), (2, 4), (2, 4)]):
        wave(practice, clinician, f"GAP-{i}", mine, theirs)


def gaps_table(client, practice) -> list[dict]:
    page = read_page(client.get(reverse("my_relationships", args=[practice.slug])))
    return rows_as_dicts(page.tables["gaps"]), page.figures.get("gaps")


@pytest.fixture
def practice(current_instruments):
    return factories.practice("gaps", min_n=5)


@pytest.fixture
def cara(practice):
    return factories.member(practice, "cara", "clinician")


def test_my_page_shows_how_the_gaps_spread_not_only_their_mean(practice, cara):
    six_waves_two_in_each_band(practice, cara)

    rows, figure = gaps_table(signed_in(cara), practice)

    assert [row["Domain"] for row in rows] == [str(domain_label(d)) for d in SHARED_DOMAINS]
    for row in rows:
        assert row["Waves"] == "6"
        assert row["Mean gap (me − patient)"] == "8.3"
        assert [row[band] for band in BANDS] == ["2", "2", "2"]
        assert row["Flag rule"] == ITEM_PAIRS
    assert [trace["name"] for trace in figure["data"]] == list(BANDS)
    assert all(trace["orientation"] == "h" for trace in figure["data"])
    assert figure["data"][1]["customdata"] == [2] * len(SHARED_DOMAINS)


def test_the_spread_is_explained_in_plain_words_in_english_and_spanish(practice, cara):
    six_waves_two_in_each_band(practice, cara)
    client = signed_in(cara)

    english = client.get(reverse("my_relationships", args=[practice.slug])).content.decode()
    client.cookies.load({"django_language": "es"})
    spanish = client.get(reverse("my_relationships", args=[practice.slug]), HTTP_ACCEPT_LANGUAGE="es").content.decode()

    assert "A mean gap near zero can hide large gaps both ways" in english
    assert "Una diferencia media cercana a cero puede ocultar diferencias grandes en ambos sentidos" in spanish


def test_one_step_on_every_item_is_within_error_though_the_domain_rule_would_flag_it(practice, cara):
    for i in range(5):
        wave(practice, cara, f"STEP-{i}", 5, 4)

    rows, _figure = gaps_table(signed_in(cara), practice)

    assert all([row[band] for band in BANDS] == ["0", "5", "0"] for row in rows)


def test_1_0_waves_keep_the_domain_rule_and_say_so(instruments):
    practice = factories.practice("old", min_n=5)
    clinician = factories.member(practice, "olga", "clinician")
    for i in range(5):
        wave(practice, clinician, f"OLD-{i}", 5, 4)  # 25 points: flagged by the 1.0 domain rule

    rows, _figure = gaps_table(signed_in(clinician), practice)

    assert all([row[band] for band in BANDS] == ["0", "0", "5"] for row in rows)
    assert all(row["Flag rule"] == DOMAIN_RULE for row in rows)


def test_a_clinician_with_too_few_waves_sees_no_spread(practice, cara):
    for i in range(4):
        wave(practice, cara, f"FEW-{i}", 5, 3)

    rows, figure = gaps_table(signed_in(cara), practice)

    assert all(row[band] == "hidden" for row in rows for band in BANDS)
    assert figure is None


def test_the_dyad_page_judges_a_1_1_wave_item_by_item_and_keeps_the_domain_gap(practice, cara):
    visit = wave(practice, cara, "SHARED-1", 5, 4, shared=True)

    response = signed_in(cara).get(reverse("my_dyad", args=[practice.slug, visit.dyad_id]))
    text = response.content.decode()

    assert response.status_code == 200
    assert ITEM_PAIRS in text
    assert "flagged</span>" not in text  # one step on every item: within error
    assert "25.0" in text  # the domain gap of the contract is still shown


def test_the_dyad_list_flags_only_gaps_beyond_error(practice, cara):
    wave(practice, cara, "SHARED-STEP", 5, 4, shared=True)
    wave(practice, cara, "SHARED-FAR", 5, 3, shared=True)

    page = signed_in(cara).get(reverse("my_relationships", args=[practice.slug])).content.decode()
    rows = page.split('id="dyads-title"')[1]

    step_row = rows.split("SHARED-STEP")[1].split("</tr>")[0]
    far_row = rows.split("SHARED-FAR")[1].split("</tr>")[0]
    assert "badge" not in step_row
    assert far_row.count("badge") == len(SHARED_DOMAINS)


def test_skipped_items_are_compared_only_where_both_sides_answered(practice, cara):
    from figures import queries

    with factories.in_closed_quarter():
        new = factories.visit(practice, cara, "SKIP-1")
        patient, own = factories.patient_invitation(new), factories.clinician_invitation(new)
        spec = spec_for_version(patient.instrument_version)
        optional = next(item for item in spec.items if item.allow_na)  # a patient item that may be "does not apply"
        patient_answers = {**factories.scoring_every_item(patient, 3), optional.code: "na"}
        own_answers = factories.scoring_every_item(own, 3)
        mirror = next(item for item in spec_for_version(own.instrument_version).items if item.pair == optional.code)
        own_answers[mirror.code] = "1" if not mirror.reverse else "5"  # two steps lower on the skipped pair
        services.submit_response(patient, patient_answers, shared=True)
        services.submit_response(own, own_answers)

    (wave_,) = queries.dyad_waves(new.visit.dyad)
    gap = next(g for g in wave_.gaps if g.domain == optional.domain)

    assert gap.gap < 0  # the clinician's domain score counts the item the patient skipped
    assert gap.paired.gap == 0 and gap.paired.pairs == len(spec.items_of(optional.domain)) - 1
    assert not gap.flagged


def test_a_patient_who_did_not_share_has_no_judged_gaps_on_the_dyad_page(practice, cara):
    from figures import queries

    visit = wave(practice, cara, "PRIVATE-1", 5, 3, shared=False)

    (wave_,) = queries.dyad_waves(visit.dyad)

    assert wave_.gaps == [] and wave_.patient_scores == {}


# --- the manager's concordance rests on paired visits, not on patients ------------------------------------


def patient_only(practice, clinician, reference, value=4):
    with factories.in_closed_quarter():
        new = factories.visit(practice, clinician, reference)
        invitation = factories.patient_invitation(new)
        services.submit_response(invitation, factories.scoring_every_item(invitation, value))


def concordance_rows(client, practice, **filters) -> list[dict]:
    response = client.get(reverse("practice_dashboard", args=[practice.slug]), filters)
    assert response.status_code == 200
    panel = next(p for p in response.context["panels"] if p.key == "concordance")
    return [dict(zip([str(c) for c in panel.columns], row)) for row in panel.rows]


def test_a_clinician_who_answered_two_visits_gives_no_figure_on_two_pairs_alone_or_by_subtraction(client, practice):
    """Attack: Ann has six patients, so her patient figures are shown, but she answered only two of those visits.
    Filtered to Ann, the concordance must not show means of her two paired visits; on the whole practice, its
    pairs minus the other clinicians' shown ones must not give them back either."""
    ann, bob, cem = (factories.member(practice, name, "clinician") for name in ("ann", "bob", "cem"))
    for i in range(2):
        wave(practice, ann, f"ANN-W{i}", 5, 3)
    for i in range(4):
        patient_only(practice, ann, f"ANN-P{i}")
    for clinician in (bob, cem):
        for i in range(6):
            wave(practice, clinician, f"{clinician.username}-{i}", 4, 4)
    manager = factories.member(practice, "boss", "manager")
    client.force_login(manager)

    shown = {}
    for clinician in (ann, bob, cem):
        rows = concordance_rows(client, practice, clinician=clinician.pk)
        for row in rows:
            pairs = list(row.values())[1]  # the Pairs column
            assert pairs is HIDDEN or pairs == 0 or pairs >= 5, (clinician.username, row)
        shown[clinician.username] = rows
    assert all(list(row.values())[1] is HIDDEN for row in shown["ann"])
    whole = concordance_rows(client, practice)
    for i, row in enumerate(whole):
        total = list(row.values())[1]
        if total is HIDDEN:
            continue
        others = [list(shown[name][i].values())[1] for name in ("bob", "cem")]
        # Practice minus every shown clinician: nothing (all shown) or at least the minimum (Ann's 2 are safe).
        remainder = total - sum(n for n in others if n is not HIDDEN)
        assert remainder == 0 or remainder >= 5, row
        assert remainder != 2, row


# --- the manager's concordance counts each visit's gap by its instrument's rule ----------------------------


def flagged_gaps(rows: list[dict]) -> list:
    return [row["Gaps beyond measurement error"] for row in rows]


def test_the_managers_count_does_not_flag_one_step_on_every_item_of_a_1_1_visit(client, practice, cara):
    """All "Strongly agree" against all "Agree" is 25 points in every domain: the 1.0 rule would flag all six
    visits, and the manager's page did until the read model kept each visit's band."""
    for i in range(6):
        wave(practice, cara, f"STEP-{i}", 5, 4)
    for i in range(5):
        wave(practice, cara, f"FAR-{i}", 5, 3)
    client.force_login(factories.member(practice, "boss", "manager"))

    rows = concordance_rows(client, practice)

    assert [row["Pairs"] for row in rows] == [11] * len(SHARED_DOMAINS)
    assert flagged_gaps(rows) == [5] * len(SHARED_DOMAINS)  # the two-step visits only


def test_the_managers_count_keeps_the_domain_rule_for_1_0_visits(client, instruments):
    practice = factories.practice("old-manager", min_n=5)
    olga = factories.member(practice, "olga", "clinician")
    for i in range(6):
        wave(practice, olga, f"OLD-{i}", 5, 4)  # 25 points: flagged by the 1.0 domain rule
    client.force_login(factories.member(practice, "boss", "manager"))

    assert flagged_gaps(concordance_rows(client, practice)) == [6] * len(SHARED_DOMAINS)
