"""Forms for projects and shots: what a user may type, checked before anything is saved."""

from django import forms

from . import pipeline
from .models import MAX_DURATION, MIN_DURATION, Opening, Project, Shot


class ProjectForm(forms.ModelForm):
    class Meta:
        model = Project
        fields = [
            "title",
            "model",
            "resolution",
            "ratio",
            "generate_audio",
            "watermark",
            "budget_tokens",
        ]
        widgets = {"model": forms.TextInput(attrs={"placeholder": "server default"})}
        labels = {"budget_tokens": "Budget (tokens)"}
        help_texts = {"budget_tokens": "Optional: no shot is sent that would exceed it."}

    def clean(self):
        cleaned = super().clean()
        if not self.errors:
            # Any shot would be refused for these settings: say so now, not after Generate.
            project = Project(**{f: cleaned.get(f) for f in self.Meta.fields})
            for problem in pipeline.settings_problems(project):
                self.add_error(None, problem)
        return cleaned


class ShotForm(forms.ModelForm):
    class Meta:
        model = Shot
        fields = ["prompt", "duration", "opening", "first_frame", "seed"]
        widgets = {
            "prompt": forms.Textarea(attrs={"rows": 3, "placeholder": "What happens in this shot"}),
            "duration": forms.NumberInput(attrs={"min": MIN_DURATION, "max": MAX_DURATION}),
        }
        help_texts = {
            "duration": f"Seconds, {MIN_DURATION} to {MAX_DURATION}.",
            "opening": "Continue starts on the last frame of the shot before; cut starts fresh.",
            "first_frame": "Optional, for a cut: the picture the shot starts on.",
        }

    def __init__(self, *args, project, first=False, **kwargs):
        super().__init__(*args, **kwargs)
        self.project = project
        self.first = first
        if first:
            self.fields["opening"].initial = Opening.CUT

    def clean(self):
        cleaned = super().clean()
        opening = cleaned.get("opening")
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
        if not self.errors:
            shot = Shot(project=self.project, position=0 if self.first else 1)
            for name in self.Meta.fields:
                setattr(shot, name, cleaned.get(name))
            for problem in pipeline.problems(shot):
                self.add_error(None, problem)
        return cleaned
