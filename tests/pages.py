"""Reading pages as a browser without JavaScript would: the forms they hold."""

from html.parser import HTMLParser


class _Forms(HTMLParser):
    def __init__(self):
        super().__init__()
        self.forms = []
        self._open = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form":
            self._open = {"attrs": attrs, "fields": {}}
            self.forms.append(self._open)
        elif (
            tag == "input"
            and self._open is not None
            and attrs.get("name")
            and (attrs.get("type") not in ("checkbox", "radio") or "checked" in attrs)
        ):
            self._open["fields"][attrs["name"]] = attrs.get("value", "")

    def handle_endtag(self, tag):
        if tag == "form":
            self._open = None


def form(html, action):
    """The form of a page that posts to `action`: its attributes and hidden fields."""
    parser = _Forms()
    parser.feed(html)
    for found in parser.forms:
        if found["attrs"].get("action") == action:
            return found
    raise AssertionError(f"no form posts to {action}")


def submit(client, page, action, **data):
    """Post a page's form as a browser without JavaScript would: its own fields (the
    CSRF token among them) and `data`."""
    found = form(page.content.decode(), action)
    fields = {**found["fields"], **data}
    # No script runs here to add the token to the request's headers, as htmx does.
    return client.post(action, fields, HTTP_X_CSRFTOKEN="")
