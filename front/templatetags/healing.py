"""Display helpers: one decimal for scores, a clear mark for hidden figures."""

from django import template
from django.http import QueryDict
from django.utils.formats import number_format
from django.utils.translation import get_language

from figures.figure import HIDDEN
from surveys.domains import domain_label

register = template.Library()


@register.filter
def cell(value):
    """A table cell: scores to one decimal, indices and shares below 1 (reliability, UPC) to two, hidden figures
    said plainly, missing as an en dash."""
    if value is None or value == "":
        return "–"
    if value is HIDDEN:
        return str(HIDDEN)
    if isinstance(value, float):
        # Rounded, not cut: number_format truncates the digits it drops (2/3 of 100 would read 66.6).
        digits = 2 if abs(value) < 1 else 1
        return number_format(round(value, digits), digits)  # "80.3" in English, "80,3" in Spanish
    return value


@register.filter
def percent(value):
    return "–" if value is None else f"{number_format(round(100 * value), 0)}%"


@register.filter
def label(code):
    return domain_label(code)


@register.filter
def get(mapping, key):
    return mapping.get(key) if mapping else None


@register.simple_tag(takes_context=True)
def querystring_page(context, param: str, number: int) -> str:
    """The current query string with one list's page set: filters and other lists' pages are kept.

    Django's own {% querystring %} takes only literal parameter names; a page with two paged lists needs the
    name as a value. Escaped by the template engine (simple_tag output is autoescaped)."""
    request = context.get("request")  # a template rendered without a request (an e-mail, a test) has no query
    query = request.GET.copy() if request is not None else QueryDict(mutable=True)
    query[param] = str(number)
    return "?" + query.urlencode()


@register.filter
def in_language(suggestion):
    """A suggestion (measurement.reflection) in the page's language."""
    return suggestion.in_language((get_language() or "en").split("-")[0])
