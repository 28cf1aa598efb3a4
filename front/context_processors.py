"""Template context for every page."""

from surveys.permissions import may_see_psychometrics, memberships


def navigation(request) -> dict:
    """Template context: the practices and roles of the signed-in person, for the practice switcher.

    A page rendered before the middleware ran (runserver's static files answering 404) has no user: no switcher.
    """
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    roles: dict = {}
    for membership in memberships(user).order_by("practice__name"):
        roles.setdefault(membership.practice, set()).add(membership.role)
    return {
        "nav_practices": [(practice, sorted(r)) for practice, r in roles.items()],
        "nav_psychometrics": may_see_psychometrics(user),
    }
