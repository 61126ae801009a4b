"""The JSON API, version 1, at /api/v1/: what the web does, for scripts and programs.

Each request bears an access token (projects.models.AccessToken) as `Authorization:
Bearer <secret>`; projects.access decides what its owner may do, within the token's
limits, exactly as for the web. Interactive documentation at /api/v1/docs, the OpenAPI
schema at /api/v1/openapi.json. One router per file; every error is one JSON shape
(projects.api.common).

An endpoint: in its router's file, `viewer(request, pk, action)` for the project (never a
rule of its own), a Django form bound with `form_data` and refused with `form_invalid`
(the web's messages), `response=answers(Schema, status)`, request bodies as `Body`
subclasses, lists `@paginated`; then its route in tests/test_access.py's API table (the
matrix asks it of every token) and tests/data/openapi.json refreshed (test_api says how).
"""

from ninja import NinjaAPI

from . import arranging, cast, comments, common, exports, links, storyboard
from .auth import TokenAuth
from .projects import router as projects
from .shots import router as shots
from .takes import router as takes
from .teams import router as teams

DESCRIPTION = """What the web does, for scripts and programs: teams, projects, shots, takes;
generating, making final, cancelling; arranging (moving, duplicating, trimming shots, undoing
a deletion, variants, seams, releasing a held continue, moving a project to another team);
sending a take again, verdicts; exports, the storyboard file, comments, the cast and links.

Send an access token (made on your account's **API tokens** page, or with `manage.py
token create`) as `Authorization: Bearer <token>`. It acts as you, with your role in each
team, limited to one team or to reading when it was made so. Lists come a page at a time
(`?page=N&page_size=M`, as `{"items": [...], "count": N}`). Every error is
`{"code": "...", "message": "...", "fields": {...}}`, `fields` naming what was wrong in
what you sent, with the web's own messages. Generating counts against the same rates as
on the web, per person: your tokens and the web together (a 429 says
when to try again, and `Retry-After` too).
"""

api = NinjaAPI(
    title="Storyboard",
    version="1",
    description=DESCRIPTION,
    urls_namespace="api-v1",
    auth=TokenAuth(),
)
common.install(api)
api.add_router("/teams", teams)
api.add_router("/projects", projects)
api.add_router("/projects", shots)
api.add_router("/projects", takes)
for part in (arranging, exports, storyboard, comments, cast, links):
    api.add_router("/projects", part.router)
