"""From a script to shots: a Fountain screenplay, a plain outline or a CSV shot list read
into a plan (the shots and the cast it would make, with warnings), then created in one
transaction, appended to a project's shots. The project's shots go out as the same CSV.

Reading writes nothing: the import page shows the plan, and only its confirmation calls
`create`. Fountain is read by screenplain's parser:

- a scene heading (`INT. HARBOUR - NIGHT`) starts a scene: its first shot is a cut, and
  its place joins the cast as a location (Harbour);
- each action paragraph is a shot, its prompt the action (the characters it names written
  `@Name`); later paragraphs of a scene continue;
- each character who speaks joins the cast; their lines go into the notes of the shot
  whose action they follow, and a shot names the place and those present (named in the
  action or speaking).

An outline is one paragraph (line) per shot, a blank line between scenes. A CSV has the
columns `prompt`, `duration`, `opening`, `cast` (names, separated by commas) and `notes`.
"""

import csv
import io
import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

from django.db import transaction
from django.db.models.functions import Lower
from screenplain.parsers import fountain
from screenplain.types import Action, Dialog, DualDialog, Slug

from . import arrange
from .models import MAX_DURATION, MAX_PROMPT, MIN_DURATION, CastMember, Opening, Project, Shot
from .models.cast import MAX_DESCRIPTION, MAX_NAME, NAME_PATTERN, mentions
from .models.projects import MAX_NOTES

FOUNTAIN, OUTLINE, CSV, BREAKDOWN = "fountain", "outline", "csv", "breakdown"
KINDS = {
    FOUNTAIN: "Fountain screenplay",
    OUTLINE: "plain outline",
    CSV: "CSV shot list",
    BREAKDOWN: "breakdown by the chat model",
}
SUFFIXES = {".fountain": FOUNTAIN, ".spmd": FOUNTAIN, ".txt": OUTLINE, ".csv": CSV}
COLUMNS = ("prompt", "duration", "opening", "cast", "notes")
DEFAULT_DURATION = 5
# An action paragraph longer than this is more than one 4-15 s shot can show: flagged, with
# a split at its sentences into parts of at most this many words.
LONG_WORDS = 60
WORDS_A_SECOND = 2.5  # spoken: the time a shot's dialogue takes
MAX_TEXT = 5_000_000  # characters of a script read at once
SCENE_HEADING = re.compile(r"^(?:INT\.?/EXT|EXT\.?/INT|I/E|INT|EXT|EST)\.?\s+", re.IGNORECASE)
# What a spreadsheet takes for the start of a formula.
FORMULA = ("=", "+", "-", "@", "\t", "\r")
EXTENSION = re.compile(r"\s*\((?:[^)]*)\)\s*|\s*\^\s*$")


class ScriptError(ValueError):
    """A script that cannot become shots; its text says why, for a person."""


@dataclass
class Member:
    name: str
    kind: str = CastMember.Kind.CHARACTER
    description: str = ""
    new: bool = True  # not in the project's cast yet


@dataclass
class Planned:
    prompt: str
    opening: str
    duration: int = DEFAULT_DURATION
    cast: list = field(default_factory=list)  # names, as in the plan's cast
    notes: str = ""
    warnings: list = field(default_factory=list)
    split: list = field(default_factory=list)  # the parts a long prompt is best split into
    number: int = 0  # in the plan, from 1


@dataclass
class Plan:
    kind: str
    title: str = ""
    shots: list = field(default_factory=list)
    cast: list = field(default_factory=list)
    warnings: list = field(default_factory=list)

    @property
    def cuts(self):
        return sum(1 for shot in self.shots if shot.opening == Opening.CUT)

    @property
    def continues(self):
        return len(self.shots) - self.cuts

    def get_kind_display(self):
        return KINDS[self.kind]

    @property
    def flagged(self):
        """The shots with warnings."""
        return [shot for shot in self.shots if shot.warnings]

    @property
    def new_cast(self):
        return [member for member in self.cast if member.new]

    def summary(self):
        s = "" if len(self.shots) == 1 else "s"
        text = f"{len(self.shots)} shot{s} ({self.cuts} cut{'' if self.cuts == 1 else 's'}, "
        text += f"{self.continues} continue{'' if self.continues == 1 else 's'})"
        new = self.new_cast
        if new:
            text += f", {len(new)} new cast member{'' if len(new) == 1 else 's'}: "
            text += ", ".join(f"{member.name} ({member.kind})" for member in new)
        return text


def kind_of(filename):
    """The kind of script a file name says (FOUNTAIN, OUTLINE or CSV), or ScriptError."""
    kind = SUFFIXES.get(Path(filename).suffix.lower())
    if kind is None:
        raise ScriptError(
            f"{filename}: a script is a .fountain screenplay, a .txt outline or a .csv shot list."
        )
    return kind


def guess(text):
    """The kind of a pasted script: a CSV when its first line names the columns, a Fountain
    screenplay when it has a scene heading, else an outline."""
    lines = text.strip().splitlines()
    first = lines[0].strip().lower() if lines else ""
    if first.startswith("prompt") and first[6:7] in (",", ";", "\t"):
        return CSV
    if any(SCENE_HEADING.match(line.strip()) for line in lines):
        return FOUNTAIN
    return OUTLINE


def decode(data, name="the file"):
    """A script's bytes as text (UTF-8, with or without the mark a spreadsheet puts first)."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ScriptError(f"{name} is not UTF-8 text.") from None


def read(text, kind, project=None, split=False):
    """The plan of what `text` (a script of `kind`) would make in `project` (None: a new
    project). `split` takes the suggested split of every long action paragraph. Nothing is
    written; ScriptError when the script cannot become shots."""
    if len(text) > MAX_TEXT:
        raise ScriptError(f"The script is longer than {MAX_TEXT:,} characters.")
    reader = {FOUNTAIN: _fountain, OUTLINE: _outline, CSV: _csv, BREAKDOWN: _breakdown}.get(kind)
    if reader is None:
        raise ScriptError(f"Unknown kind of script {kind!r}.")
    plan = reader(text)
    if not plan.shots:
        raise ScriptError(f"The {KINDS[kind]} has no shots.")
    _split_long(plan, split)
    _mark_known(plan, project)
    for number, shot in enumerate(plan.shots, start=1):
        shot.number = number
    return plan


# Fountain


def _fountain(text):
    try:
        screenplay = fountain.parse(io.StringIO(text))
    except Exception as error:  # the parser's own failures, whatever their type
        raise ScriptError(f"The Fountain screenplay cannot be read: {error}") from error
    paragraphs = screenplay.paragraphs
    if not any(isinstance(p, Slug) for p in paragraphs):
        raise ScriptError(
            "The Fountain screenplay has no scenes: no scene heading such as "
            "“INT. HARBOUR - NIGHT” (a line starting INT. or EXT., or a forced one "
            "starting with a full stop)."
        )
    title = " ".join(str(t) for t in screenplay.get_rich_attribute("Title")).strip()
    plan = Plan(FOUNTAIN, title=title)
    cast = {}  # lower-case name: Member

    def join(name, kind, description=""):
        return cast.setdefault(name.lower(), Member(name, kind, description)).name

    # Who speaks, first: an action names them even before their first line.
    for paragraph in paragraphs:
        for dialog in _dialogs(paragraph):
            name = _character(dialog)
            if name:
                join(name, CastMember.Kind.CHARACTER)
    characters = [m.name for m in cast.values()]
    mention = _mentioner(characters)

    place, shot, skipped = None, None, 0
    for paragraph in paragraphs:
        if isinstance(paragraph, Slug):
            heading = str(paragraph.line).strip()
            name = _location(heading)
            place = join(name, CastMember.Kind.LOCATION, heading) if name else None
            shot = None
        elif isinstance(paragraph, Action) and not paragraph.centered:
            action = " ".join(str(line).strip() for line in paragraph.lines).strip()
            if not action:
                continue
            if place is None and not plan.shots:
                skipped += 1
                continue
            prompt, present = mention(action)
            opening = Opening.CONTINUE if shot is not None else Opening.CUT
            shot = Planned(prompt=prompt, opening=opening, cast=_with(place, present))
            plan.shots.append(shot)
        else:
            dialogs = _dialogs(paragraph)
            if not dialogs:
                continue
            if shot is None:  # lines before any action in the scene: a shot of the speakers
                speakers = [n for n in (_character(d) for d in dialogs) if n]
                where = f"@{place}" if place else "The scene"
                who = " and ".join(f"@{cast[n.lower()].name}" for n in speakers) or "someone"
                shot = Planned(
                    prompt=f"{where}: {who} speak{'s' if len(speakers) == 1 else ''}.",
                    opening=Opening.CUT if not plan.shots or place else Opening.CONTINUE,
                    cast=_with(place, []),
                )
                plan.shots.append(shot)
            for dialog in dialogs:
                name = _character(dialog)
                if name:
                    shot.cast = _with(None, [*shot.cast, cast[name.lower()].name])
                said = " ".join(
                    str(line).strip() for parenthetical, line in dialog.blocks if not parenthetical
                )
                asides = [
                    str(line).strip() for parenthetical, line in dialog.blocks if parenthetical
                ]
                line = f"{str(dialog.character).strip()}: " + (
                    " ".join(asides) + " " if asides else ""
                )
                shot.notes = (shot.notes + "\n" if shot.notes else "") + line + said
    if skipped:
        plan.warnings.append(
            f"{skipped} action paragraph{'s' if skipped > 1 else ''} before the first scene "
            "heading left out."
        )
    plan.cast = list(cast.values())
    for planned in plan.shots:
        _timed(planned)
    return plan


def _dialogs(paragraph):
    if isinstance(paragraph, Dialog):
        return [paragraph]
    if isinstance(paragraph, DualDialog):
        return [paragraph.left, paragraph.right]
    return []


def _character(dialog):
    """The cast name of who speaks: TOM (O.S.) is Tom, OLD MAN is Old-Man."""
    return _name(EXTENSION.sub(" ", str(dialog.character)))


def _location(heading):
    """The place a scene heading names: `INT. HARBOUR - NIGHT` is Harbour."""
    place = SCENE_HEADING.sub("", heading.lstrip(".")).split(" - ")[0]
    return _name(place)


def _name(text):
    """Words as a cast name usable as @Name: `old man` is Old-Man."""
    words = re.findall(r"[^\W_]+", text)
    name = "-".join(word.capitalize() for word in words)[:MAX_NAME].strip("-")
    return name if name and NAME_PATTERN.match(name) else ""


def _mentioner(names):
    """A function: action text -> (the text with each character it names as @Name, the
    names it mentions)."""
    if not names:
        return lambda text: (text, [])
    spoken = {}
    for name in names:
        spoken[name.replace("-", " ").lower()] = name
    pattern = re.compile(
        r"(?<![\w@])("
        + "|".join(
            re.escape(s).replace(r"\ ", r"[\s-]+") for s in sorted(spoken, key=len, reverse=True)
        )
        + r")(?![\w-])",
        re.IGNORECASE,
    )

    def mention(text):
        found = []

        def named(match):
            name = spoken[re.sub(r"[\s-]+", " ", match.group(1)).lower()]
            if name not in found:
                found.append(name)
            return f"@{name}"

        return pattern.sub(named, text), found

    return mention


def _with(place, names):
    """The place first, then the names, each once."""
    return list(dict.fromkeys([*([place] if place else []), *names]))


def _timed(shot):
    """A duration long enough for the shot's dialogue (spoken at WORDS_A_SECOND)."""
    words = sum(len(line.split(":", 1)[-1].split()) for line in shot.notes.splitlines())
    needed = math.ceil(words / WORDS_A_SECOND) + 1 if words else 0
    shot.duration = max(DEFAULT_DURATION, min(needed, MAX_DURATION))
    if needed > MAX_DURATION:
        shot.warnings.append(
            f"its dialogue takes about {needed} s, longer than one shot's {MAX_DURATION} s"
        )


# Outline


def _outline(text):
    plan = Plan(OUTLINE)
    cast = {}
    scene_open = False
    for line in text.splitlines():
        line = line.strip()
        if not line:
            scene_open = False
            continue
        opening = Opening.CONTINUE if scene_open else Opening.CUT
        scene_open = True
        named = mentions(line)
        for name in named:
            cast.setdefault(name.lower(), Member(name))
        plan.shots.append(Planned(prompt=line, opening=opening, cast=named))
    plan.cast = list(cast.values())
    return plan


# CSV


def _csv(text):
    # The separator the header uses (a spreadsheet saves commas, semicolons or tabs); the
    # quotes are always double, as every spreadsheet writes them.
    header_line = text.split("\n", 1)[0]
    delimiter = max(",;\t", key=header_line.count)
    rows = csv.reader(io.StringIO(text), delimiter=delimiter)
    header = next(rows, None)
    if not header:
        raise ScriptError("The CSV is empty: its first row names the columns.")
    columns = [column.strip().lower() for column in header]
    unknown = [header[i] for i, c in enumerate(columns) if c not in COLUMNS]
    if unknown:
        raise ScriptError(
            "The CSV has unknown column"
            + ("s " if len(unknown) > 1 else " ")
            + ", ".join(f"“{c}”" for c in unknown)
            + "; its columns are "
            + ", ".join(COLUMNS)
            + "."
        )
    if "prompt" not in columns:
        raise ScriptError("The CSV has no “prompt” column.")
    twice = sorted({c for c in columns if columns.count(c) > 1})
    if twice:
        raise ScriptError(
            f"The CSV has the column{'s' if len(twice) > 1 else ''} {', '.join(twice)} twice."
        )
    plan = Plan(CSV)
    cast = {}
    for number, row in enumerate(rows, start=2):
        values = dict(zip(columns, (_unquoted(v.strip()) for v in row), strict=False))
        if not any(values.values()):
            continue
        where = f"Row {number}"
        prompt = values.get("prompt", "")
        if not prompt:
            raise ScriptError(f"{where}: the prompt is empty.")
        duration = _duration(values.get("duration", ""), where)
        opening = values.get("opening", "").lower()
        if not opening:
            opening = Opening.CUT if not plan.shots else Opening.CONTINUE
        elif opening not in Opening.values:
            raise ScriptError(
                f"{where}: the opening must be cut or continue, not “{values['opening']}”."
            )
        notes = values.get("notes", "")
        if len(notes) > MAX_NOTES:
            raise ScriptError(f"{where}: the notes are longer than {MAX_NOTES} characters.")
        named = []
        for name in re.split(r"[,;]", values.get("cast", "")):
            name = name.strip().lstrip("@")
            if not name:
                continue
            if not NAME_PATTERN.match(name) or len(name) > MAX_NAME:
                raise ScriptError(
                    f"{where}: the cast name “{name}” is not usable as @Name (letters, digits, "
                    f"_ or -, at most {MAX_NAME} characters)."
                )
            named.append(cast.setdefault(name.lower(), Member(name)).name)
        for name in mentions(prompt):
            named.append(cast.setdefault(name.lower(), Member(name)).name)
        plan.shots.append(
            Planned(
                prompt=prompt,
                opening=opening,
                duration=duration,
                cast=list(dict.fromkeys(named)),
                notes=notes,
            )
        )
    plan.cast = list(cast.values())
    return plan


def _duration(value, where):
    if not value:
        return DEFAULT_DURATION
    text = value.lower().removesuffix("s").strip()
    try:
        seconds = float(text)
    except ValueError:
        seconds = None
    if seconds is None or seconds != int(seconds) or not MIN_DURATION <= seconds <= MAX_DURATION:
        raise ScriptError(
            f"{where}: the duration “{value}” is not whole seconds from {MIN_DURATION} to "
            f"{MAX_DURATION}."
        )
    return int(seconds)


# The chat model's breakdown


def break_down(script):
    """The gateway's chat model's breakdown of `script` (providers.chat), as the text
    `read(..., BREAKDOWN)` takes: the preview carries it to the confirmation as it is, so
    what is confirmed is what was shown. ScriptError when none can be had."""
    from .providers import ProviderError, chat

    if not script.strip():
        raise ScriptError("Paste a script to break down, or choose its file.")
    try:
        return chat.breakdown(script)
    except ProviderError as error:
        raise ScriptError(str(error)) from error


def ai_enabled():
    """Whether Break down with AI is offered: SCRIPT_MODEL names a chat model."""
    from .providers import chat

    return chat.enabled()


def breaking_down(breakdown_id):
    """A worker's part of Break down with AI: ask the chat model and keep its answer, or
    why there is none, on the Breakdown the import page waits on."""
    from .models import Breakdown

    breakdown = Breakdown.objects.filter(pk=breakdown_id, status=Breakdown.Status.QUEUED).first()
    if breakdown is None:
        return
    try:
        answer = break_down(breakdown.script)
        read(answer, BREAKDOWN, breakdown.project)  # an answer the preview cannot show fails here
    except ScriptError as error:
        Breakdown.objects.filter(pk=breakdown.pk).update(
            status=Breakdown.Status.FAILED, error=str(error)
        )
        return
    Breakdown.objects.filter(pk=breakdown.pk).update(status=Breakdown.Status.DONE, answer=answer)


def _breakdown(text):
    try:
        data = json.loads(text)
    except ValueError as error:
        raise ScriptError(f"The breakdown is not JSON ({error}).") from error
    if not isinstance(data, dict) or not isinstance(data.get("shots"), list):
        raise ScriptError("The breakdown has no list of shots.")
    plan = Plan(BREAKDOWN)
    cast = {}
    for number, member in enumerate(data.get("cast") or [], start=1):
        if not isinstance(member, dict):
            raise ScriptError(f"Cast member {number} of the breakdown is not an object.")
        name = _name(str(member.get("name", "")))
        kind = member.get("kind", CastMember.Kind.CHARACTER)
        if not name or kind not in CastMember.Kind.values:
            raise ScriptError(f"Cast member {number} of the breakdown has no usable name or kind.")
        description = str(member.get("description", ""))[:MAX_DESCRIPTION]
        cast.setdefault(name.lower(), Member(name, kind, description))
    for number, shot in enumerate(data["shots"], start=1):
        where = f"Shot {number} of the breakdown"
        if not isinstance(shot, dict) or not str(shot.get("prompt", "")).strip():
            raise ScriptError(f"{where} has no prompt.")
        duration = shot.get("duration", DEFAULT_DURATION)
        if isinstance(duration, bool) or not isinstance(duration, int):
            raise ScriptError(f"{where}: the duration is not whole seconds.")
        opening = shot.get("opening") or (Opening.CUT if number == 1 else Opening.CONTINUE)
        if opening not in Opening.values:
            raise ScriptError(f"{where}: the opening must be cut or continue.")
        named = []
        for name in shot.get("cast") or []:
            name = _name(str(name))
            if name:
                named.append(cast.setdefault(name.lower(), Member(name)).name)
        plan.shots.append(
            Planned(
                prompt=str(shot["prompt"]).strip(),
                opening=opening,
                duration=max(MIN_DURATION, min(duration, MAX_DURATION)),
                cast=named,
                notes=str(shot.get("notes", ""))[:MAX_NOTES],
            )
        )
    plan.cast = list(cast.values())
    return plan


# Long paragraphs, and what the project has already


def suggested_split(text, words=LONG_WORDS):
    """`text` in parts of at most `words` words, cut between sentences where it can."""
    sentences = re.split(r"(?<=[.!?…])\s+", text.strip())
    parts, current = [], []
    for sentence in sentences:
        pieces = sentence.split()
        while len(pieces) > words:  # a sentence longer than a part: cut between words
            if current:
                parts.append(" ".join(current))
                current = []
            parts.append(" ".join(pieces[:words]))
            pieces = pieces[words:]
        if current and len(current) + len(pieces) > words:
            parts.append(" ".join(current))
            current = []
        current += pieces
    if current:
        parts.append(" ".join(current))
    return parts


def _split_long(plan, split):
    """Flag each prompt too long for one shot with its suggested split; take the split when
    asked, and always for one longer than a prompt may be."""
    shots = []
    for number, shot in enumerate(plan.shots, start=1):
        words = len(shot.prompt.split())
        if words <= LONG_WORDS and len(shot.prompt) <= MAX_PROMPT:
            shots.append(shot)
            continue
        parts = suggested_split(shot.prompt)
        if not split and len(shot.prompt) <= MAX_PROMPT:
            shot.split = parts
            shot.warnings.append(
                f"{words} words is long for one prompt: split into {len(parts)} shots as suggested"
            )
            shots.append(shot)
            continue
        if not split:
            plan.warnings.append(
                f"Shot {number} was longer than a prompt may be ({MAX_PROMPT} characters): "
                f"split into {len(parts)} shots."
            )
        names = {n.lower() for n in mentions(shot.prompt)}
        for index, part in enumerate(parts):
            mentioned = {n.lower() for n in mentions(part)}
            shots.append(
                Planned(
                    prompt=part,
                    opening=shot.opening if index == 0 else Opening.CONTINUE,
                    duration=shot.duration,
                    # The place and the speakers stay; the mentioned, where the part names them.
                    cast=[n for n in shot.cast if n.lower() not in names or n.lower() in mentioned],
                    notes=shot.notes if index == len(parts) - 1 else "",
                )
            )
    plan.shots = shots


def _mark_known(plan, project):
    """Cast members the project has already are not new: the plan uses theirs (their name
    as the project spells it, their kind)."""
    if project is None:
        return
    names = [member.name.lower() for member in plan.cast]
    found = {
        member.low: member
        for member in project.cast.annotate(low=Lower("name")).filter(low__in=names)
    }
    renamed = {}
    for member in plan.cast:
        known = found.get(member.name.lower())
        if known is not None:
            renamed[member.name] = known.name
            member.name, member.kind, member.new = known.name, known.kind, False
    if renamed:
        for shot in plan.shots:
            shot.cast = [renamed.get(name, name) for name in shot.cast]


# Creating


@transaction.atomic
def create(plan, project, by=None):
    """Append the plan's shots to `project`, and its new cast members, in one transaction:
    all of it or nothing. The shots made, in order."""
    project = Project.objects.select_for_update().get(pk=project.pk)
    arrange.forget_removed(project)
    members = {m.name.lower(): m for m in project.cast.all()}
    new = [
        CastMember(project=project, name=m.name, kind=m.kind, description=m.description)
        for m in plan.cast
        if m.name.lower() not in members
    ]
    for member in CastMember.objects.bulk_create(new):
        members[member.name.lower()] = member
    start = project.shots.count()
    shots = Shot.objects.bulk_create(
        Shot(
            project=project,
            position=start + index,
            prompt=planned.prompt,
            notes=planned.notes,
            duration=planned.duration,
            opening=Opening.CUT if start + index == 0 else planned.opening,
            edited_by=by,
        )
        for index, planned in enumerate(plan.shots)
    )
    through = Shot.cast.through
    rows = []
    for shot, planned in zip(shots, plan.shots, strict=True):
        names = [*planned.cast, *mentions(planned.prompt)]
        chosen = {members[n.lower()].pk for n in names if n.lower() in members}
        rows += [through(shot_id=shot.pk, castmember_id=pk) for pk in chosen]
    through.objects.bulk_create(rows)
    project.touch()
    return shots


def new_project(plan, team, owner, title=None):
    """A new project in `team` made from the plan, titled `title`, else the script's."""
    with transaction.atomic():
        project = Project.objects.create(
            title=(title or plan.title or "Imported script")[:200], team=team, created_by=owner
        )
        create(plan, project, by=owner)
    return project


# The shot list out


def shot_list(project):
    """The project's shots as the CSV `read` takes back (columns COLUMNS), as text. A cell
    a spreadsheet would take for a formula (`@Mara walks…`, `=…`) is written after an
    apostrophe, which reading takes off again."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(COLUMNS)
    for shot in project.shots.in_order().prefetch_related("cast"):
        names = ", ".join(member.name for member in shot.cast_in_order())
        row = [shot.prompt, shot.duration, shot.opening_now, names, shot.notes]
        writer.writerow([_quoted(str(value)) for value in row])
    return out.getvalue()


def _quoted(cell):
    return "'" + cell if cell.startswith(FORMULA) else cell


def _unquoted(cell):
    return cell[1:] if cell.startswith("'") and cell[1:].startswith(FORMULA) else cell
