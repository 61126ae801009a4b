"""What a server does once before it answers: the work every first request would do.

After a restart every open page reconnects its event stream at once. Without this, the
first of those requests imports the URLconf (and with it the views and the pipeline),
and the first live events compile the timeline's templates, while the event loop and
every other request wait: seconds, on a loaded machine, before anyone sees progress.
"""

from django.template.loader import get_template
from django.urls import get_resolver

# The templates of the project pages and of the live events made from their fragments.
TEMPLATES = (
    "base.html",
    "projects/timeline.html",
    "projects/project_detail.html",
    "projects/shared.html",
    "projects/live_status.html",
    "projects/resync.html",
    "projects/shortcuts.html",
    "projects/bill_confirm.html",
)


def warm_up():
    """Import the URLconf and compile the templates that the first requests need."""
    get_resolver().url_patterns  # noqa: B018 (imports every view)
    for name in TEMPLATES:
        get_template(name)
