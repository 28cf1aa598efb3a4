"""Checks of a page's Content-Security-Policy and of what it has inline, shared by the security suites."""

from __future__ import annotations

from html.parser import HTMLParser


class InlineCode(HTMLParser):
    """Collects what a strict CSP would block: inline scripts, <style>, style="" and on*="" attributes."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []
        self._in_script: dict | None = None

    def handle_starttag(self, tag, attrs):
        named = dict(attrs)
        for name, value in attrs:
            if name == "style":
                self.problems.append(f"style attribute on <{tag}>: {value!r}")
            elif name.startswith("on"):
                self.problems.append(f"event handler {name}= on <{tag}>")
            elif name in {"href", "src", "action", "formaction"} and (value or "").strip().lower().startswith("javascript:"):
                self.problems.append(f"javascript: URL in <{tag} {name}>")
        if tag == "style":
            self.problems.append("<style> element")
        if tag == "script" and "src" not in named:
            # Data blocks (figures for charts.js) are not run, so CSP has nothing to say about them.
            if (named.get("type") or "").lower() != "application/json":
                self.problems.append(f"inline <script type={named.get('type')!r}>")

    handle_startendtag = handle_starttag


def inline_code(html: str) -> list[str]:
    parser = InlineCode()
    parser.feed(html)
    return parser.problems


def policy(response) -> dict[str, list[str]]:
    header = response.get("Content-Security-Policy")
    assert header, f"no Content-Security-Policy on {response.request['PATH_INFO']}"
    directives = {}
    for part in header.split(";"):
        words = part.split()
        if words:
            directives[words[0]] = words[1:]
    return directives


def assert_strict(response):
    """The page is served under a strict policy and has nothing inline that the policy would block."""
    directives = policy(response)
    assert directives["default-src"] == ["'self'"]
    assert directives["script-src"] == ["'self'"]  # no 'unsafe-inline', no 'unsafe-eval', no hosts
    assert "'unsafe-inline'" not in directives["style-src"]
    assert directives["object-src"] == ["'none'"]
    assert directives["frame-ancestors"] == ["'none'"]
    assert directives["base-uri"] == ["'none'"]
    # The one exception plotly needs: empty style="" attributes, by the hash of the empty string, nothing else.
    assert directives.get("style-src-attr", []) in ([], ["'unsafe-hashes'", f"'{EMPTY_STYLE_HASH}'"])
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert inline_code(response.content.decode()) == [], response.request["PATH_INFO"]


EMPTY_STYLE_HASH = "sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
