from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.shortcuts import redirect
from django.templatetags.static import static
from django.urls import include, path

from front.forms import SignInForm
from plumbing.ratelimit import limit_password_resets

urlpatterns = [
    path("accounts/login/", auth_views.LoginView.as_view(authentication_form=SignInForm), name="login"),
    # Password reset requests send mail: limited per client and per address asked for.
    path(
        "accounts/password_reset/",
        limit_password_resets(auth_views.PasswordResetView.as_view()),
        name="password_reset",
    ),
    # Sign-out, password change and the rest of password reset: Django's own views with our templates.
    path("accounts/", include("django.contrib.auth.urls")),
    path("admin/", admin.site.urls),
    # Browsers ask for /favicon.ico whatever the page says: send them to the icon (no 404 on every page).
    path("favicon.ico", lambda request: redirect(static("img/favicon.svg"), permanent=True), name="favicon"),
    # set_language: the interface language chosen from the navigation bar (a cookie; the browser's by default).
    path("i18n/", include("django.conf.urls.i18n")),
    path("fhir/", include("front.fhir_urls")),
    path("", include("api.urls")),
    path("", include("front.report_urls")),
    path("", include("front.urls")),
]

# Bodies too big or unreadable: a 413 or 400 page that says what to do (plumbing/middleware.py).
handler400 = "plumbing.middleware.bad_request"
