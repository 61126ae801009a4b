"""One provider client per process and configuration: connections kept, closed at exit."""

import subprocess
import sys

import pytest

from projects import pipeline, providers
from projects.models import Opening
from tests.factories import make_project
from tests.live import ROOT

pytestmark = pytest.mark.django_db


def test_the_pipeline_reuses_one_client_and_its_connection(simulator, user):
    client = providers.get_client()
    assert providers.get_client() is client
    project = make_project(user, shots=[("A", Opening.CUT), ("B", Opening.CONTINUE)])
    pipeline.queue_takes(project)
    pipeline.run_here(project)

    ports = {r["peer"] for r in simulator.requests}
    calls = len(simulator.requests)
    assert calls >= 4 and len(ports) == 1, f"{calls} calls over {len(ports)} connections"


def test_another_configuration_gets_its_own_client_and_closing_closes_them(simulator, settings):
    first = providers.get_client()
    settings.SEEDANCE_API_KEY = "another-key"
    second = providers.get_client()
    assert second is not first

    providers.close_clients()
    assert first.http.is_closed and second.http.is_closed
    assert providers.get_client() is not second  # a new one after closing


def test_a_process_closes_its_clients_when_it_ends():
    code = (
        "import django, os; os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'storyboard.settings');"
        "django.setup();"
        "from projects import providers;"
        "from multiprocessing.util import Finalize; client = providers.get_client();"
        # Exit's finalizers run highest priority first: this one after any closing.
        "Finalize(None, lambda: print('closed' if client.http.is_closed else 'open'),"
        " exitpriority=0)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.stdout.strip() == "closed", done.stderr
