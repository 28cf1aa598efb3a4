"""The dashboard's tiles: the median time to complete is a figure about patients like any other."""

import datetime as dt

import pytest
from django.db.models import F
from django.urls import reverse

from surveys.models import Response
from tests import factories


@pytest.fixture
def practice(current_instruments):
    return factories.practice("tiles", min_n=5)


def tiles(client, practice, **filters):
    response = client.get(reverse("practice_dashboard", args=[practice.slug]), filters)
    assert response.status_code == 200
    return response.context["tiles"]


@pytest.mark.parametrize("answered, shown", [(2, False), (5, True)])
def test_the_median_minutes_rest_on_at_least_the_minimum_of_completions(client, practice, answered, shown):
    ann = factories.member(practice, "ann", "clinician")
    for i in range(answered):
        factories.answered_wave(practice, ann, f"ANN-{i}", 4, 4)
    Response.objects.update(started_at=F("submitted_at") - dt.timedelta(minutes=4))  # opened, then sent
    client.force_login(factories.member(practice, "boss", "manager"))
    for filters in ({}, {"clinician": ann.pk}):
        assert (tiles(client, practice, **filters).median_minutes is not None) is shown
