"""Messages set while answering an htmx request reach the page, out of band."""

from django.contrib.messages import get_messages
from django.template.loader import render_to_string
from django.utils.deprecation import MiddlewareMixin


class HtmxMessagesMiddleware(MiddlewareMixin):
    """An htmx request swaps one fragment, so the page's message area would never show
    what the view said; this appends it, marked to replace the area wherever it is."""

    def process_response(self, request, response):
        if (
            not getattr(request, "htmx", False)
            or response.streaming
            or response.status_code in (204, 301, 302, 303, 307, 308)
            or "HX-Redirect" in response
            or not response.get("Content-Type", "").startswith("text/html")
        ):
            return response
        messages = get_messages(request)
        if not messages:
            return response
        response.write(render_to_string("flash.html", {"messages": messages, "oob": True}))
        return response
