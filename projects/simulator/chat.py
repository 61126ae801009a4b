"""The simulator's chat model: `/v1/chat/completions` breaking a script down into shots,
decided by the text alone, so the same script always gets the same breakdown.

Paragraphs are read plainly: a scene heading (INT./EXT.) starts a cut at a new location;
a line in capitals above others is a character speaking (their lines the shot's notes);
any other paragraph is a shot, its prompt in Seedance's camera language."""

import json
import re

HEADING = re.compile(r"^(?:INT|EXT|EST|I/E)[./ ]", re.IGNORECASE)
CAMERA = ("Wide shot, slow push-in", "Medium shot, handheld", "Close-up, static camera")


def _name(text):
    words = re.findall(r"[^\W_]+", re.sub(r"\(.*?\)", "", text))
    return "-".join(word.capitalize() for word in words)


def breakdown(script):
    cast, shots = {}, []
    place, scene_shots = None, 0
    for block in re.split(r"\n\s*\n", script.strip()):
        lines = [line.strip() for line in block.strip().splitlines() if line.strip()]
        if not lines or ":" in lines[0] and lines[0].split(":")[0].istitle() and not shots:
            continue  # a title page's "Key: value"
        if HEADING.match(lines[0]):
            heading = lines[0]
            place = _name(re.sub(HEADING, "", heading).split(" - ")[0])
            cast.setdefault(place, {"name": place, "kind": "location", "description": heading})
            scene_shots = 0
            continue
        if lines[0].isupper() and len(lines) > 1:
            speaker = _name(lines[0])
            cast.setdefault(speaker, {"name": speaker, "kind": "character", "description": ""})
            said = " ".join(line for line in lines[1:] if not line.startswith("("))
            if shots:
                shot = shots[-1]
                shot["notes"] = (
                    shot["notes"] + "\n" if shot["notes"] else ""
                ) + f"{lines[0]}: {said}"
                if speaker not in shot["cast"]:
                    shot["cast"].append(speaker)
            continue
        action = " ".join(lines)
        camera = CAMERA[len(shots) % len(CAMERA)]
        shots.append(
            {
                "prompt": f"{camera}: {action}",
                "duration": min(15, max(4, len(action.split()) // 4)),
                "opening": "continue" if scene_shots else "cut",
                "cast": [place] if place else [],
                "notes": "",
            }
        )
        scene_shots += 1
    return {"cast": list(cast.values()), "shots": shots}


def complete(body):
    """(status, answer) of a chat completion asking for a breakdown."""
    if not isinstance(body, dict) or not body.get("model") or not body.get("messages"):
        error = {"message": "Send a model and messages.", "type": "invalid_request_error"}
        return 400, {"error": error}
    said = [m.get("content", "") for m in body["messages"] if m.get("role") == "user"]
    content = json.dumps(breakdown(said[-1] if said else ""))
    return 200, {
        "id": "chatcmpl-simulated",
        "object": "chat.completion",
        "model": body["model"],
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content},
                "finish_reason": "stop",
            }
        ],
        "usage": {
            "prompt_tokens": len(said[-1].split()) if said else 0,
            "completion_tokens": len(content.split()),
        },
    }
