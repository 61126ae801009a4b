"""The seam guard's thresholds (projects/media/guard.py) against simulator clips.

    uv run python bench/guard.py [--seeds 4] [--small]

Renders, with the local simulator's renderer, ordinary clips of several sizes and kinds
(from the prompt alone, continuing the clip before, dissolving into a last-frame target)
and the same clips made to end badly ([sim:end=black|blur|cut]: a fade to black, a pull
into heavy blur, a hard cut to another scene in the last half second). Checks each
clip's last frame as a continue would start on it and prints what was measured:

- false alarms: ordinary clips the guard would hold (goal: none);
- catches: spoiled clips it holds, and for the right reason (goal: all);
- the margins: how close the nearest ordinary clip came to each threshold;
- the time one check takes.
"""

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from projects.media import guard  # noqa: E402
from projects.simulator.render import ENDINGS, render_clip  # noqa: E402

SIZES = {"480p 16:9": (864, 496), "480p 9:16": (496, 864), "480p 1:1": (640, 640)}
PROMPTS = ["A valley at dawn", "Rain over a harbour", "A fox in the snow", "Neon streets"]
EXPECTED = {"black": "blank", "blur": "blur", "cut": "cut"}


def clips(folder, seeds, small):
    """(name, path, ending) of every clip, rendered into `folder`."""
    for size, (width, height) in SIZES.items():
        for seed in range(seeds):
            prompt = PROMPTS[seed % len(PROMPTS)]
            common = dict(width=width, height=height, duration=4, seed=seed, small=small)
            plain = folder / f"{width}x{height}-{seed}.mp4"
            last = render_clip(plain, prompt=prompt, **common)
            yield f"{size} seed {seed}", plain, None
            # A continue: starts on that clip's last frame, as a chain does.
            chained = folder / f"{width}x{height}-{seed}-continue.mp4"
            render_clip(chained, prompt=f"{prompt}, closer", first_frame=last, **common)
            yield f"{size} seed {seed} continuing", chained, None
            # Ending on a picture of its own: a one-second dissolve into it.
            target = folder / f"{width}x{height}-{seed}-target.mp4"
            render_clip(target, prompt=prompt, last_frame=last.rotate(180), **common)
            yield f"{size} seed {seed} to a target", target, None
            for ending in ENDINGS:
                spoiled = folder / f"{width}x{height}-{seed}-{ending}.mp4"
                render_clip(spoiled, prompt=prompt, ending=ending, **common)
                yield f"{size} seed {seed} end={ending}", spoiled, ending


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=4, help="clips of each kind and size")
    parser.add_argument("--small", action="store_true", help="the simulator's small clips")
    args = parser.parse_args()
    limits = guard.THRESHOLDS
    print(f"thresholds: {limits}")
    alarms, caught, wrong, missed, ordinary, spoiled, times = [], [], [], [], [], [], []
    margins = {"luma": [], "spread": [], "sharpness share": []}
    with tempfile.TemporaryDirectory() as folder:
        for name, path, ending in clips(Path(folder), args.seeds, args.small):
            started = time.perf_counter()
            seam = guard.measure(path)
            finding = guard.judge(seam)
            times.append(time.perf_counter() - started)
            share = seam.sharpness / seam.median_sharpness if seam.median_sharpness else 0
            said = finding.check if finding else "pass"
            print(
                f"  {name:<34} luma {seam.luma:6.1f}  spread {seam.spread:5.1f}  "
                f"sharpness {share:4.2f} of median  cut "
                f"{'-' if seam.cut_at is None else f'{seam.cut_at:.2f} s before'}  -> {said}"
            )
            if ending is None:
                ordinary.append(name)
                margins["luma"].append(seam.luma)
                margins["spread"].append(seam.spread)
                margins["sharpness share"].append(share)
                if finding:
                    alarms.append(f"{name} ({finding.what})")
            else:
                spoiled.append(name)
                if finding is None:
                    missed.append(name)
                elif finding.check == EXPECTED[ending]:
                    caught.append(name)
                else:
                    caught.append(name)
                    wrong.append(f"{name} (held as {finding.check})")
    print()
    print(f"false alarms: {len(alarms)} of {len(ordinary)} ordinary clips (goal: 0)")
    for alarm in alarms:
        print(f"  {alarm}")
    print(f"catches: {len(caught)} of {len(spoiled)} spoiled clips (goal: all)")
    for miss in missed:
        print(f"  missed: {miss}")
    for other in wrong:
        print(f"  caught for another reason: {other}")
    print(
        "nearest ordinary clip to each threshold: "
        f"luma {min(margins['luma']):.1f} (holds at <= {limits.dark_luma}), "
        f"spread {min(margins['spread']):.1f} (<= {limits.flat_spread}), "
        f"sharpness {min(margins['sharpness share']):.2f} of median (< {limits.blur_share})"
    )
    print(
        f"one check: median {statistics.median(times) * 1000:.0f} ms, "
        f"slowest {max(times) * 1000:.0f} ms ({'small' if args.small else 'full-size'} clips)"
    )
    return 1 if alarms or missed else 0


if __name__ == "__main__":
    sys.exit(main())
