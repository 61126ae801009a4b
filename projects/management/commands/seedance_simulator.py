"""`manage.py seedance_simulator`: run the local Seedance simulator until interrupted."""

import argparse
import signal

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from projects.simulator import Simulator
from projects.simulator.render import RATES


class Command(BaseCommand):
    help = (
        "Serve the local Seedance simulator: the native Ark v3 API at <url>/api/v3 (and "
        "<url>/seedance/api/v3) and the gateway styles at <url>/dieyuyun, <url>/wisgate, "
        "<url>/openai-videos and <url>/futurmix/v1."
    )
    # It serves HTTP and touches no models or URLs: nothing for the system checks to find.
    requires_system_checks = []

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=settings.SIMULATOR_PORT)
        parser.add_argument(
            "--delay",
            type=float,
            default=settings.SIMULATOR_DELAY,
            help="seconds from create to succeeded",
        )
        parser.add_argument(
            "--limits",
            action="store_true",
            help="enforce the rate and concurrency limits each style's documents state",
        )
        # --no-small too, since the default may come from SIMULATOR_SMALL.
        parser.add_argument(
            "--small",
            action=argparse.BooleanOptionalAction,
            default=settings.SIMULATOR_SMALL,
            help="render clips at an eighth of each side, without text or blurs",
        )
        parser.add_argument(
            "--fps",
            type=int,
            choices=RATES,
            default=settings.SIMULATOR_FPS,
            help="the frame rate of its clips (Seedance's is 24)",
        )

    def handle(self, *args, host, port, delay, limits, small, fps, **options):
        try:
            simulator = Simulator(
                host=host, port=port, delay=delay, limits=limits, small=small, fps=fps
            )
        except OSError as exc:
            raise CommandError(f"cannot listen on {host}:{port}: {exc.strerror}") from exc
        # Both end the server the same way; SIGINT is set explicitly because a launcher
        # (a shell script's background job) may have left it ignored.
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, _interrupt)
        extras = (", documented limits" if limits else "") + (", small clips" if small else "")
        extras += f", {fps} fps" if fps != 24 else ""
        self.stdout.write(f"Seedance simulator at {simulator.url} (delay {delay:g} s{extras})")
        self.stdout.flush()
        try:
            simulator.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            simulator.stop()


def _interrupt(signum, frame):
    # One signal is enough; a repeat (`uv run` forwards the TERM its group already got)
    # must not break into the shutdown, which is quick anyway.
    for repeat in (signal.SIGINT, signal.SIGTERM):
        signal.signal(repeat, signal.SIG_IGN)
    raise KeyboardInterrupt
