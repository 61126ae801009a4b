"""The JSON API, version 1, at /api/v1/: what the web does, for scripts and programs.

Each request bears an access token (projects.models.AccessToken) as `Authorization:
Bearer <secret>`; projects.access decides what its owner may do, within the token's
limits, exactly as for the web. Interactive documentation at /api/v1/docs, the OpenAPI
schema at /api/v1/openapi.json. One router per file; every error is one JSON shape
(projects.api.common).
"""

from ninja import NinjaAPI

from . import cast, comments, common, exports, storyboard
from .auth import TokenAuth
from .teams import router as teams

api = NinjaAPI(
    title="Storyboard",
    version="1",
    description=__doc__,
    urls_namespace="api-v1",
    auth=TokenAuth(),
)
common.install(api)
api.add_router("/teams", teams)
for part in (exports, storyboard, comments, cast):
    api.add_router("/projects", part.router)
