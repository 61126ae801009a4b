"""Forms for projects and shots: what a user may type, checked before anything is saved."""

from django import forms
from django.conf import settings
from django.db import transaction
from django.forms.utils import flatatt
from django.utils.html import format_html, format_html_join

from . import cast as casting
from . import media, pipeline, providers, scripts, uploads
from .files import fitted_upload
from .models import (
    MAX_DURATION,
    MAX_PROMPT,
    MIN_DURATION,
    CastImage,
    CastMember,
    Export,
    Opening,
    Project,
    Reference,
    Shot,
    Team,
)
from .models.cast import MAX_IMAGES, MIN_IMAGES, NAME_PATTERN
from .models.tokens import DEFAULT_DAYS
from .providers import MAX_IMAGE_BYTES, SEEDS, ratio_help


class Versioned(forms.ModelForm):
    """An edit that says which version it was made from (projects.edits)."""

    version = forms.IntegerField(widget=forms.HiddenInput, required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["version"].initial = self.instance.version

    def clean_version(self):
        return self.cleaned_data.get("version") or self.instance.version


class ModelPick(forms.Widget):
    """The model as a choice among the gateway's (providers.model_choices), blank for the
    server's default, and, where the gateway takes any id, "Other…" with a field for it
    (an endpoint id, ep-…), which CSS shows only while "Other…" is picked. A value posted
    by name alone (`model=ep-…`, as a script or the API would) is taken as it is."""

    OTHER = "_other"  # never a model id: those begin with a letter or digit

    def __init__(self, choices, default="", other=True, attrs=None):
        super().__init__(attrs)
        self.choices, self.default, self.other = list(choices), default, other

    def value_from_datadict(self, data, files, name):
        value = data.get(name)
        if value == self.OTHER:
            return (data.get(f"{name}{self.OTHER}") or "").strip()
        return value

    def options(self, value):
        """(value, words, selected) of each option, and whether "Other…" is the pick."""
        known = {model for model, _ in self.choices}
        default = f"Server default ({self.default})" if self.default else "Server default"
        options = [("", default), *self.choices]
        custom = bool(value) and value not in known
        if custom and not self.other:
            options.append((value, f"{value} (not offered here)"))
            custom = False
        if self.other:
            options.append((self.OTHER, "Other model or endpoint id…"))
        pick = self.OTHER if custom else (value or "")
        return [(v, words, v == pick) for v, words in options], custom

    def render(self, name, value, attrs=None, renderer=None):
        attrs = self.build_attrs(self.attrs, attrs)
        own = attrs.get("id") or f"id_{name}"
        options, custom = self.options(value or "")
        select = format_html(
            '<select name="{}"{}>{}</select>',
            name,
            flatatt(attrs),
            format_html_join(
                "",
                '<option value="{}"{}>{}</option>',
                ((v, " selected" if chosen else "", words) for v, words, chosen in options),
            ),
        )
        other = ""
        if self.other:
            other = format_html(
                '<div class="model-other"><label for="{id}{o}">Model or endpoint id</label>'
                '<input type="text" name="{name}{o}" id="{id}{o}" value="{value}" '
                'maxlength="100" placeholder="ep-20260101000000-abcde" autocomplete="off" '
                'spellcheck="false"></div>',
                id=own,
                name=name,
                o=self.OTHER,
                value=value if custom else "",
            )
        return format_html('<div class="model-pick">{}{}</div>', select, other)


class ProjectForm(Versioned):
    class Meta:
        model = Project
        fields = [
            "title",
            "connection",
            "model",
            "draft_model",
            "resolution",
            "ratio",
            "generate_audio",
            "watermark",
            "budget_tokens",
            "guard_blank",
            "guard_cut",
            "guard_blur",
        ]
        widgets = {
            "draft_model": forms.TextInput(attrs={"placeholder": "the model's fast sibling"}),
        }
        labels = {"budget_tokens": "Budget (tokens)", "draft_model": "Fast model, for drafts"}
        help_texts = {
            "model": "One of the gateway's models, or another id: on Volcengine and "
            "BytePlus an endpoint id (ep-…).",
            "draft_model": "What Generate drafts with. Left blank: the fast model of the "
            "same family (doubao-seedance-2-0-fast-260128 for doubao-seedance-2-0-260128), "
            "or the model itself where none is known, as for an endpoint id: name your "
            "fast endpoint here.",
            "budget_tokens": "Optional: no shot is sent that would exceed it.",
            "guard_blank": "The seam guard checks the frame a continue would start on before "
            "anything is paid for, and holds the chain when it fails.",
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "connection" in self.fields:
            self._connections()
        # The models, sizes and checks of the gateway the project's takes go through: its
        # own pick, its team's connection, or the server's.
        gateway = self.instance.gateway() if self.instance.pk else None
        with providers.using((lambda: gateway) if gateway is not None else None):
            if "ratio" in self.fields:
                self.fields["ratio"].help_text = ratio_help()
            choices = providers.model_choices()
            if "model" in self.fields and choices:
                other = providers.takes_any_model()
                default = providers.default_model()
                self.fields["model"].widget = ModelPick(choices, default, other)
                if not other:
                    self.fields["model"].help_text = "One of the gateway's models."

    def _connections(self):
        """The team's gateway connections to pick among; the field only where it has any."""
        team = self.instance.team if self.instance.team_id else None
        connections = team.connections.all() if team is not None else None
        if not connections:
            del self.fields["connection"]
            return
        field = self.fields["connection"]
        field.queryset = connections
        default = team.gateway.name if team.gateway_id else "the server's own gateway"
        field.empty_label = f"The team's default ({default})"
        field.help_text = (
            "Where its new takes are made. Takes already sent finish where they went; "
            "owners add connections on the team's page."
        )

    def clean(self):
        cleaned = super().clean()
        if not self.errors:
            # Any shot would be refused for these settings: say so now, not after Generate.
            project = Project(**{f: cleaned.get(f) for f in self.Meta.fields})
            if project.team_id is None:  # checked against its team's gateway
                project.team_id = self.instance.team_id
            for problem in pipeline.settings_problems(project):
                self.add_error(None, problem)
        return cleaned


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Several files from one input, as Django's documentation shows it."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("widget", MultipleFileInput())
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        single = super().clean
        if isinstance(data, list | tuple):
            return [single(item, initial) for item in data]
        return [single(data, initial)] if data else []


class PictureField(forms.ImageField):
    """An uploaded picture, refused with the reason when it has more bytes than an image
    may, or more pixels, before anything reads or decodes it."""

    def to_python(self, data):
        if data not in self.empty_values and hasattr(data, "size"):
            name = f"'{data.name}'"
            problem = uploads.too_large(data.size, "image", name)
            if problem:
                raise forms.ValidationError(problem)
            try:
                media.open_image(data, settings.MAX_IMAGE_PIXELS, name)
            except media.MediaError as error:
                raise forms.ValidationError(str(error)) from error
            finally:
                data.seek(0)
        return super().to_python(data)


class NewProjectForm(ProjectForm):
    """A project made in one of the teams whose members may make projects."""

    team = forms.ModelChoiceField(queryset=Team.objects.none(), empty_label=None, required=False)

    class Meta(ProjectForm.Meta):
        fields = ["title", "team", "model", "resolution", "ratio", "generate_audio"]

    def __init__(self, *args, teams, **kwargs):
        super().__init__(*args, **kwargs)
        del self.fields["version"]
        self.fields["team"].queryset = teams
        if len(teams) == 1:
            self.fields["team"].widget = forms.HiddenInput()
        self.fields["team"].initial = teams[0].pk if teams else None
        self.teams = teams

    def clean_team(self):
        # One team to choose from: it goes without saying.
        team = self.cleaned_data.get("team") or self.teams.first()
        if team is None:
            raise forms.ValidationError("You make projects in no team: ask an owner.")
        return team


class ShotForm(Versioned):
    references = MultipleFileField(
        required=False,
        help_text=(
            "Optional, for a cut instead of a first frame: up to 9 images, 3 videos and "
            "3 audio files that guide the shot."
        ),
    )
    remove_references = forms.BooleanField(required=False, label="Remove its references")
    cast = forms.ModelMultipleChoiceField(
        queryset=CastMember.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple(attrs={"class": "cast-pick"}),
        help_text="Who is in the shot, besides those its prompt names as @Name.",
    )

    field_order = [
        "prompt",
        "notes",
        "cast",
        "duration",
        "opening",
        "transition",
        "transition_frames",
        "first_frame",
        "last_frame_target",
        "references",
        "remove_references",
        "seed",
    ]

    class Meta:
        model = Shot
        fields = [
            "prompt",
            "notes",
            "duration",
            "opening",
            "transition",
            "transition_frames",
            "first_frame",
            "last_frame_target",
            "seed",
        ]
        widgets = {
            "prompt": forms.Textarea(attrs={"rows": 3, "placeholder": "What happens in this shot"}),
            "notes": forms.Textarea(attrs={"rows": 2, "placeholder": "Dialogue and notes"}),
            "seed": forms.NumberInput(attrs={"min": SEEDS.start, "max": SEEDS.stop - 1}),
            "duration": forms.NumberInput(attrs={"min": MIN_DURATION, "max": MAX_DURATION}),
        }
        labels = {"last_frame_target": "Last-frame target"}
        field_classes = {"first_frame": PictureField, "last_frame_target": PictureField}
        help_texts = {
            "notes": "Optional: its dialogue and notes, for the captions and the printed "
            "storyboard; never sent to the gateway.",
            "duration": f"Seconds, {MIN_DURATION} to {MAX_DURATION}.",
            "opening": "Continue starts on the last frame of the shot before; cut starts fresh.",
            "transition": "Optional, for a cut: how it enters from the shot before.",
            "transition_frames": "Frames of the cut the transition lasts, at its clips' "
            "frame rate (24 a second for Seedance's).",
            "first_frame": "Optional, for a cut: the picture the shot starts on.",
            "last_frame_target": "Optional: the picture the shot should end on.",
            "seed": "Optional: -1 to 4294967295; blank or -1, one drawn at random.",
        }

    def __init__(self, *args, project, first=False, **kwargs):
        super().__init__(*args, **kwargs)
        self.project = project
        self.first = first
        self.fields["transition_frames"].required = False
        if first:
            self.fields["opening"].initial = Opening.CUT
        self.fields["cast"].queryset = project.cast.all()
        if not project.cast_list():
            del self.fields["cast"]
        elif self.instance.pk:
            # Picked: those in the shot its prompt does not name (taking @Mara out of the
            # prompt takes her out of the shot, unless she is picked).
            named = {name.lower() for name in casting.mentions(self.instance.prompt)}
            self.fields["cast"].initial = [
                m for m in self.instance.cast.all() if m.name.lower() not in named
            ]
        self.kept = list(self.instance.references.all()) if self.instance.pk else []
        if self.kept:
            kinds = ", ".join(reference.kind for reference in self.kept)
            field = self.fields["references"]
            field.help_text += f" It has {len(self.kept)} ({kinds}); uploading replaces them."
        else:
            del self.fields["remove_references"]

    def clean_seed(self):
        # -1 asks the provider to draw one, as no seed does; the pipeline then draws it
        # itself, so a final can reuse it. Out of range: pipeline.problems says so.
        seed = self.cleaned_data.get("seed")
        return None if seed == -1 else seed

    def clean_transition_frames(self):
        return self.cleaned_data.get("transition_frames") or Shot.transition_frames.field.default

    # Images are fitted to every provider's limits once, here, and stored so.

    def clean_first_frame(self):
        return self._fitted(self.cleaned_data.get("first_frame"))

    def clean_last_frame_target(self):
        return self._fitted(self.cleaned_data.get("last_frame_target"))

    def _fitted(self, upload):
        if not upload or not hasattr(upload, "content_type"):  # nothing new uploaded
            return upload
        try:
            return fitted_upload(upload, MAX_IMAGE_BYTES)
        except media.MediaError as error:
            raise forms.ValidationError(str(error)) from error

    def clean_references(self):
        """The uploaded references as unsaved rows, each told apart by its content."""
        files = self.cleaned_data.get("references") or []
        references = []
        for position, upload in enumerate(files):
            name = f"'{upload.name}'"
            try:
                # Past every limit, it was never kept: its size is all there is to tell.
                problem = uploads.too_large(upload.size, name=name)
                if problem is None:
                    kind = media.kind_of(upload, settings.MAX_IMAGE_PIXELS, name)
                    problem = uploads.too_large(upload.size, kind, name)
                if problem is None and kind == Reference.Kind.IMAGE:
                    upload = fitted_upload(upload, MAX_IMAGE_BYTES)
            except media.MediaError as error:
                problem = str(error)
            if problem:
                raise forms.ValidationError(problem)
            references.append(Reference(kind=kind, file=upload, position=position))
        return references

    def clean(self):
        cleaned = super().clean()
        opening = cleaned.get("opening")
        references = self.chosen_references()
        if self.first and opening == Opening.CONTINUE:
            self.add_error(
                "opening", "The first shot has nothing before it to continue: make it a cut."
            )
        if opening == Opening.CONTINUE and cleaned.get("first_frame"):
            self.add_error(
                "first_frame",
                "A continue starts on the previous shot's last frame; "
                "a first frame of its own needs a cut.",
            )
        if cleaned.get("transition") and (opening == Opening.CONTINUE or self.first):
            self.add_error(
                "transition",
                "A continue is continuous already, and the first shot has nothing before it: "
                "only a later cut enters with a transition.",
            )
        if opening == Opening.CONTINUE and references:
            self.add_error(
                "references",
                "A continue starts on the previous shot's last frame, which references "
                "cannot be mixed with: make it a cut.",
            )
        if not self.errors:
            shot = Shot(project=self.project, position=0 if self.first else 1)
            for name in self.Meta.fields:
                setattr(shot, name, cleaned.get(name))
            members = self.chosen_cast()
            for problem in pipeline.problems(shot, references=references, cast=members):
                self.add_error(None, problem)
        return cleaned

    def chosen_cast(self):
        """The cast the shot will have once saved, in the order its images go out."""
        named = casting.named_in(self.project, self.cleaned_data.get("prompt") or "")
        members = {m.pk: m for m in [*named, *(self.cleaned_data.get("cast") or [])]}
        ordered = sorted(members.values(), key=lambda member: member.name.lower())
        return casting.mentioned_order(self.cleaned_data.get("prompt") or "", ordered)

    def chosen_references(self):
        """The references the shot will have once saved: new uploads, else the kept ones."""
        uploaded = self.cleaned_data.get("references")
        if uploaded:
            return uploaded
        if self.cleaned_data.get("remove_references"):
            return []
        return self.kept

    def save(self, commit=True):
        shot = super().save(commit=commit)
        if commit:
            self.save_references()
        return shot

    def save_references(self):
        """Replace the shot's references when new ones were uploaded or removal was asked,
        and put in its cast those its prompt names and those picked."""
        casting.set_cast(self.instance, self.cleaned_data.get("cast") or [])
        uploaded = self.cleaned_data.get("references")
        if not uploaded and not self.cleaned_data.get("remove_references"):
            return
        with transaction.atomic():
            self.instance.references.all().delete()
            for reference in uploaded:
                reference.shot = self.instance
                reference.save()


class CastMemberForm(forms.ModelForm):
    """A cast member: a name usable as @Name, a kind, a description, 1 to 4 pictures (new
    ones replace the old), and a character's voice."""

    images = MultipleFileField(
        required=False,
        help_text=f"{MIN_IMAGES} to {MAX_IMAGES} pictures, PNG or JPEG: a face, a costume, "
        "a place seen clearly. A cut sends them to the gateway as reference images.",
    )
    remove_voice = forms.BooleanField(required=False, label="Remove the voice clip")

    class Meta:
        model = CastMember
        fields = ["name", "kind", "description", "images", "voice"]
        widgets = {"description": forms.Textarea(attrs={"rows": 3})}
        help_texts = {
            "name": "Unique in the project; shots name them as @Name. Letters, digits, _ and -.",
            "description": "A sentence or two: what the gateway is told of them with their "
            "pictures, and in place of them where a shot starts on a frame.",
            "voice": "Optional, for a character: a short audio clip of their voice.",
        }

    def __init__(self, *args, project, **kwargs):
        super().__init__(*args, **kwargs)
        self.project = self.instance.project = project
        self.kept = self.instance.image_list() if self.instance.pk else []
        if self.kept:
            self.fields["images"].help_text += f" It has {len(self.kept)}; uploading replaces them."
        if not self.instance.voice:
            del self.fields["remove_voice"]

    def clean_name(self):
        name = self.cleaned_data["name"].strip().lstrip("@")
        if not NAME_PATTERN.match(name):
            raise forms.ValidationError(
                "A name is one word that can follow @ in a prompt: letters, digits, _ and -."
            )
        taken = self.project.cast.filter(name__iexact=name).exclude(pk=self.instance.pk)
        if taken.exists():
            raise forms.ValidationError(f"The cast already has a member called {name}.")
        return name

    def clean_images(self):
        """The pictures as unsaved rows, fitted to every provider's limits; refused whole,
        with the reason, when one is not a picture or too large."""
        files = self.cleaned_data.get("images") or []
        if not files and not self.kept:
            raise forms.ValidationError(f"Give {MIN_IMAGES} to {MAX_IMAGES} pictures.")
        if len(files) > MAX_IMAGES:
            raise forms.ValidationError(
                f"{len(files)} pictures: a cast member has at most {MAX_IMAGES}."
            )
        images = []
        for position, upload in enumerate(files):
            name = f"'{upload.name}'"
            try:
                problem = uploads.too_large(upload.size, "image", name)
                if problem is None:
                    media.open_image(upload, settings.MAX_IMAGE_PIXELS, name)
                    upload = fitted_upload(upload, MAX_IMAGE_BYTES)
            except media.MediaError as error:
                problem = str(error)
            if problem:
                raise forms.ValidationError(problem)
            images.append(CastImage(position=position, file=upload))
        return images

    def clean_voice(self):
        voice = self.cleaned_data.get("voice")
        if not voice or not hasattr(voice, "content_type"):  # nothing new uploaded
            return voice
        name = f"'{voice.name}'"
        try:
            problem = uploads.too_large(voice.size, "audio", name)
            if problem is None:
                kind = media.kind_of(voice, settings.MAX_IMAGE_PIXELS, name)
                if kind != "audio":
                    problem = f"{name} is not an audio file."
        except media.MediaError as error:
            problem = str(error)
        if problem:
            raise forms.ValidationError(problem)
        return voice

    def clean(self):
        cleaned = super().clean()
        voice = cleaned.get("voice") and not cleaned.get("remove_voice")
        if voice and cleaned.get("kind") != CastMember.Kind.CHARACTER:
            self.add_error("voice", "Only a character has a voice.")
        return cleaned

    @property
    def new_images(self):
        return self.cleaned_data.get("images") or []

    @property
    def look_changed(self):
        """Whether saving changes what the gateway is told of them."""
        return bool(self.new_images) or "description" in self.changed_data

    def save_images(self):
        if self.cleaned_data.get("remove_voice"):
            self.instance.voice.delete(save=True)
        if not self.new_images:
            return
        self.instance.images.all().delete()
        for image in self.new_images:
            image.member = self.instance
            image.save()


class NewShotForm(ShotForm):
    """A shot to add: at the end, or before any shot, which moves on with those after it."""

    at = forms.TypedChoiceField(
        label="Place", coerce=int, empty_value=None, required=False, choices=[]
    )

    def __init__(self, *args, count, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["at"].choices = [("", "At the end")] + [
            (position, f"Before shot {position + 1}") for position in range(count)
        ]
        self.order_fields(["at", *self.field_order])

    @staticmethod
    def initial_for(first):
        """What the form starts with, on the page and for the API's shot left unsaid: a
        first shot cuts, later ones continue."""
        return {"duration": 5, "opening": Opening.CUT if first else Opening.CONTINUE}

    @staticmethod
    def place(data, count):
        """Where a posted new shot goes (0-based), from its data and the shot count."""
        try:
            return max(0, min(int(data.get("at")), count))
        except (TypeError, ValueError):
            return count


class ExportForm(forms.ModelForm):
    """What an export makes: a format, seamless or every frame, loudness levelled or not."""

    class Meta:
        model = Export
        fields = ["format", "seamless", "normalize"]
        labels = {"seamless": "Seamless", "normalize": "Level loudness to -16 LUFS"}

    ONLY_IN_BUNDLE = (
        "Timelines (OpenTimelineIO, FCPXML, EDL) come inside the editor's bundle (zip), next "
        "to the clips they point at: export the bundle."
    )

    @staticmethod
    def defaults():
        return {"format": Export.Format.MP4, "seamless": True, "normalize": False}

    @staticmethod
    def offered():
        """The formats the page offers: a timeline alone would point at missing clips."""
        return [(v, label) for v, label in Export.Format.choices if v not in Export.TIMELINES]

    def clean_format(self):
        value = self.cleaned_data["format"]
        if value in Export.TIMELINES:
            raise forms.ValidationError(self.ONLY_IN_BUNDLE)
        return value


class ScriptForm(forms.Form):
    """A script to import: a file, or text pasted; its kind told by the file's name or the
    text, unless picked."""

    file = forms.FileField(
        required=False,
        label="Script file",
        help_text="A .fountain screenplay, a .txt outline (a line per shot, a blank line "
        "between scenes) or a .csv shot list (columns prompt, duration, opening, cast, notes).",
    )
    text = forms.CharField(
        required=False,
        label="Or paste it",
        widget=forms.Textarea(attrs={"rows": 10, "placeholder": "INT. HARBOUR - NIGHT"}),
    )
    kind = forms.ChoiceField(
        choices=[("", "Tell from the file or the text"), *scripts.KINDS.items()],
        required=False,
    )
    split = forms.BooleanField(required=False, label="Split long action paragraphs as suggested")

    def clean(self):
        cleaned = super().clean()
        upload, text = cleaned.get("file"), cleaned.get("text", "")
        try:
            if upload:
                if upload.size > scripts.MAX_TEXT:
                    raise scripts.ScriptError(f"{upload.name} is larger than a script may be.")
                text = scripts.decode(upload.read(), upload.name)
            if not text.strip():
                raise forms.ValidationError("Choose a script file or paste one.")
            kind = cleaned.get("kind") or (
                scripts.kind_of(upload.name) if upload else scripts.guess(text)
            )
            if self.break_down:  # a worker asks the chat model (views.scripts)
                cleaned["text"], cleaned["kind"] = text, scripts.BREAKDOWN
                return cleaned
            cleaned["plan"] = scripts.read(text, kind, self.project, split=cleaned.get("split"))
        except scripts.ScriptError as error:
            raise forms.ValidationError(str(error)) from error
        cleaned["text"], cleaned["kind"] = text, kind
        return cleaned

    def __init__(self, *args, project, break_down=False, **kwargs):
        super().__init__(*args, **kwargs)
        self.project = project
        self.break_down = break_down


class CommentForm(forms.Form):
    # A comment may carry a whole prompt for the shot, a reviewer's rewrite: as long as
    # a prompt may be (models.MAX_PROMPT, where the gateways' documents justify it).
    body = forms.CharField(
        max_length=MAX_PROMPT,
        strip=True,
        error_messages={
            "required": "Write something to comment.",
            "max_length": "A comment of at most %(limit_value)d characters, please.",
        },
    )
    take = forms.IntegerField(required=False)


# An access token's life, at most (the account page's form and `token create` alike).
MAX_DAYS = 365


class TokenForm(forms.Form):
    name = forms.CharField(
        max_length=100, help_text="What it is for: the script or machine that uses it."
    )
    team = forms.ModelChoiceField(
        queryset=Team.objects.none(),
        required=False,
        empty_label="All my teams",
        help_text="Limit it to one team: it reaches no other team's projects.",
    )
    read_only = forms.BooleanField(
        required=False,
        label="Read-only",
        help_text="It can look at projects, shots and takes, and change nothing.",
    )
    days = forms.IntegerField(
        min_value=1,
        max_value=MAX_DAYS,
        initial=DEFAULT_DAYS,
        label="Expires in (days)",
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["team"].queryset = Team.objects.filter(members=user).order_by("name")
