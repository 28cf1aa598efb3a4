"""The practice manager's tools, mounted under practice/<slug:slug>/ by surveys/urls.py."""

from django.urls import path

from . import manager_views

urlpatterns = [
    path("import/", manager_views.visit_import, name="manager_import"),
    path("import/confirm/", manager_views.visit_import_confirm, name="manager_import_confirm"),
    path("invitations/", manager_views.invitation_list, name="manager_invitations"),
    path("invitations/send/", manager_views.invitations_send_unsent, name="manager_invitations_send_unsent"),
    path("invitations/<int:invitation_id>/send/", manager_views.invitation_send, name="manager_invitation_send"),
    path("cards/", manager_views.invitation_cards, name="manager_cards"),
]
