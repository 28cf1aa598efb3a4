"""QR cards (issue 14): printing adds links beside the ones already handed out, a QR token and a short code."""

import datetime as dt

import pytest
from django.utils import timezone

from surveys import selectors, services
from surveys.models import CardLink, Invitation
from surveys.tokens import hash_token, new_short_code, normalize_short_code
from tests import factories

D1, D2 = dt.date(2025, 3, 4), dt.date(2025, 3, 5)


class TestPrintCards:
    def test_it_prints_open_invitations_of_the_day_and_skips_the_rest(self, practice_a, clinician_a, clinician_b, practice_b):
        fresh = factories.visit(practice_a, clinician_a, "PA-1", D1)
        opened = factories.visit(practice_a, clinician_a, "PA-2", D1)
        used = factories.visit(practice_a, clinician_a, "PA-3", D1)
        expired = factories.visit(practice_a, clinician_a, "PA-4", D1)
        other_day = factories.visit(practice_a, clinician_a, "PA-5", D2)
        other_practice = factories.visit(practice_b, clinician_b, "PB-1", D1)
        services.mark_opened(factories.patient_invitation(opened))
        services.submit_response(factories.patient_invitation(used), factories.full_answers(factories.patient_invitation(used)))
        Invitation.objects.filter(pk=factories.patient_invitation(expired).pk).update(expires_at=timezone.now())

        cards = services.print_cards(practice_a, D1)

        assert [card.invitation.visit.dyad.patient.reference for card in cards] == ["PA-1", "PA-2"]
        for card, old in zip(cards, [fresh, opened]):
            # The card's QR link and short code open the invitation; the visit's own link keeps working.
            assert selectors.invitation_for_token(card.token).pk == card.invitation.pk
            assert selectors.invitation_for_short_code(card.code).pk == card.invitation.pk
            assert selectors.invitation_for_token(old.patient_token).pk == card.invitation.pk
            assert Invitation.objects.get(pk=card.invitation.pk).token_hash == hash_token(old.patient_token)
        for untouched in (used, expired, other_day, other_practice):
            assert selectors.invitation_for_token(untouched.patient_token) is not None
        assert CardLink.objects.count() == 2

    def test_printing_again_adds_cards_and_keeps_the_first_ones(self, practice_a, clinician_a):
        factories.visit(practice_a, clinician_a, "PA-1", D1)
        first = services.print_cards(practice_a, D1)
        second = services.print_cards(practice_a, D1)
        assert first[0].token != second[0].token and first[0].code != second[0].code
        for card in (*first, *second):
            assert selectors.invitation_for_token(card.token).pk == first[0].invitation.pk
            assert selectors.invitation_for_short_code(card.code).pk == first[0].invitation.pk

    def test_no_secret_is_stored_in_clear(self, practice_a, clinician_a):
        factories.visit(practice_a, clinician_a, "PA-1", D1)
        card = services.print_cards(practice_a, D1)[0]
        row = CardLink.objects.values().get()
        stored = " ".join(str(value) for value in row.values())
        assert card.token not in stored and card.code not in stored and card.code.replace("-", "") not in stored

    def test_a_day_without_open_invitations_gives_nothing(self, practice_a):
        assert services.print_cards(practice_a, D1) == []


class TestShortCodes:
    def test_a_code_is_twelve_crockford_characters_in_three_groups(self):
        code = new_short_code()
        assert len(code) == 14 and code[4] == code[9] == "-"
        assert set(code.replace("-", "")) <= set("0123456789ABCDEFGHJKMNPQRSTVWXYZ")

    @pytest.mark.parametrize("typed", ["abcd-efgh-jkmn", "ABCDEFGHJKMN", " abcd efgh jkmn ", "ABCD-EFGH-JKMN"])
    def test_case_spaces_and_dashes_do_not_matter(self, typed):
        assert normalize_short_code(typed) == "ABCDEFGHJKMN"

    def test_letters_that_look_like_digits_read_as_digits(self):
        assert normalize_short_code("OOOO-IIII-LLLL") == "000011111111"

    @pytest.mark.parametrize("typed", ["", "ABCD", "ABCD-EFGH-JKMU", "ABCD-EFGH-JKMN-P", "é" * 12, "A" * 500, "../../etc"])
    def test_anything_else_is_not_a_code(self, typed):
        assert normalize_short_code(typed) is None
        assert selectors.invitation_for_short_code(typed) is None

    def test_a_typed_code_in_any_case_opens_the_invitation(self, practice_a, clinician_a):
        factories.visit(practice_a, clinician_a, "PA-1", D1)
        card = services.print_cards(practice_a, D1)[0]
        assert selectors.invitation_for_short_code(card.code.lower().replace("-", " ")).pk == card.invitation.pk
