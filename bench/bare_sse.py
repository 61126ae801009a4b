"""The anchor of bench/live.py: the least a server can do to push the same events.

A bare ASGI app, no Django, no database: every viewer's stream gets the progress
events of `RUNNING` takes once a second from an in-memory ticker, the same events
the app sends, so its CPU is the floor that bench/live.py measures the app against.
"""

import asyncio
import os
import time

RUNNING = int(os.environ.get("BARE_RUNNING", "10"))
streams = set()


async def ticker():
    percent = 0
    while True:
        await asyncio.sleep(1.0)
        percent += 1
        stamp = time.time()
        events = "".join(
            f'event: progress-{shot}\nid: {stamp}\ndata: <progress class="progress" max="100" '
            f'value="{percent}" aria-label="Progress" sse-swap="progress-{shot}" '
            f'hx-swap="outerHTML">{percent}%</progress>\n\n'
            for shot in range(RUNNING)
        )
        for queue in list(streams):
            queue.put_nowait(events)


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                asyncio.get_running_loop().create_task(ticker())
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    headers = [(b"content-type", b"text/event-stream"), (b"cache-control", b"no-cache")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    queue = asyncio.Queue()
    streams.add(queue)
    gone = asyncio.get_running_loop().create_task(_disconnect(receive))
    try:
        await send({"type": "http.response.body", "body": b"retry: 2000\n\n", "more_body": True})
        while not gone.done():
            chunk = asyncio.ensure_future(queue.get())
            await asyncio.wait([chunk, gone], return_when=asyncio.FIRST_COMPLETED)
            if not chunk.done():
                chunk.cancel()
                return
            await send(
                {"type": "http.response.body", "body": chunk.result().encode(), "more_body": True}
            )
    finally:
        streams.discard(queue)
        gone.cancel()


async def _disconnect(receive):
    while (await receive())["type"] != "http.disconnect":
        pass
