"""Forms for the review and admin pages (input parsing only)."""

from __future__ import annotations

from django import forms

from accounts.roles import Role
from annotator.models import Flag
from labeling.models import RuntimeSettings


class FlagForm(forms.Form):
    reason = forms.ChoiceField(choices=Flag.Reason.choices)
    note = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3}), label="Reason (details)")


class FlagResolveForm(forms.Form):
    resolution = forms.ChoiceField(choices=[(Flag.Resolution.KEEP, "Keep the report"), (Flag.Resolution.EXCLUDE, "Exclude the report")])
    note = forms.CharField(required=False, label="Note")


class SettingsForm(forms.Form):
    reads_per_report = forms.IntegerField(min_value=1, max_value=10, label="Reads per report (k)")
    reservation_minutes = forms.IntegerField(min_value=1, max_value=24 * 60, label="Reservation (minutes)")
    queue_order = forms.ChoiceField(choices=RuntimeSettings.QueueOrder.choices, label="Queue order")
    auto_gold = forms.BooleanField(required=False, label="Auto-gold when all reads agree")
    prefill = forms.ChoiceField(choices=RuntimeSettings.Prefill.choices, label="Pre-fill")
    allow_rereads = forms.BooleanField(required=False, label="Deliberate re-reads (intra-reader reliability)")
    reread_percent = forms.IntegerField(min_value=0, max_value=100, required=False, label="Re-read share (% of next-report requests)")
    anonymise_readers = forms.BooleanField(required=False, label="Anonymise readers for adjudicators")
    readers_see_study_metadata = forms.BooleanField(
        required=False, label="Show the study date and import metadata to readers and adjudicators (patient ids: never)"
    )


class UserCreateForm(forms.Form):
    username = forms.CharField(max_length=150)
    password = forms.CharField(widget=forms.PasswordInput, strip=False)  # the password validators run in the service
    role = forms.ChoiceField(choices=[(r.value, r.value.title()) for r in Role])


class RoleAddForm(forms.Form):
    user_id = forms.IntegerField(widget=forms.HiddenInput)
    role = forms.ChoiceField(choices=[(r.value, r.value.title()) for r in Role])
    confirm = forms.BooleanField(required=False)  # removing one's own admin role


class PasswordSetForm(forms.Form):
    user_id = forms.IntegerField(widget=forms.HiddenInput)
    password = forms.CharField(widget=forms.PasswordInput, strip=False, max_length=128)


class GoldFreezeForm(forms.Form):
    name = forms.CharField(max_length=100, label="Version name")
    note = forms.CharField(required=False, label="Note")


class GuidelineForm(forms.Form):
    observation = forms.CharField(widget=forms.HiddenInput)
    text = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}))
