"""Review UI views. Thin: parse input, call a selector or service, render.

Access: `role_required` for the role, then the blinding selectors in
`annotator.selectors` decide what exists for this user (None -> 404).
"""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import get_user_model, update_session_auth_hash
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from accounts.access import AuthenticatedHttpRequest, role_required
from accounts.errors import ConfirmationRequired, LastAdmin, WeakPassword
from accounts.roles import Role
from accounts.selectors import role_changes_recent, user_roles, users_with_roles
from accounts.services import user_create_or_update, user_deactivate, user_password_set, user_role_add, user_role_remove
from annotator import selectors, services
from annotator.forms import (
    FlagForm,
    FlagResolveForm,
    GoldFreezeForm,
    GuidelineForm,
    PasswordSetForm,
    RoleAddForm,
    SettingsForm,
    UserCreateForm,
)
from annotator.models import Flag
from api.errors import DomainError, NotFound
from labeling.forms import LabelImportForm
from labeling.models import Annotation, GoldSetVersion, Report
from labeling.observations import LABEL_VALUES, OBSERVATIONS
from labeling.selectors import runtime_settings_get
from labeling.views import imports_page_context
from privacy.services.access_audit import report_access_record
from privacy.services.sessions import user_sessions_end

SLUG_TO_NAME = {o.slug: o.value for o in OBSERVATIONS}


@login_required
def home(request: HttpRequest) -> HttpResponse:
    roles = user_roles(user=request.user)
    if Role.ADMIN not in roles:
        if Role.READER in roles:
            return redirect("annotator:queue")
        if Role.ADJUDICATOR in roles:
            return redirect("annotator:adjudication_list")
    return render(request, "home.html", {"roles": sorted(r.value for r in roles), "Role": Role})


def _labels_from_post(post: Any) -> dict[str, str]:
    return {name: post.get(f"obs-{slug}", "") for slug, name in SLUG_TO_NAME.items()}


def _float_or_none(value: str | None) -> float | None:
    try:
        return float(value) if value not in (None, "") else None
    except ValueError:
        return None


def _int_or_zero(value: str | None) -> int:
    try:
        return int(value or 0)
    except ValueError:
        return 0


# --- reader: queue and review ---------------------------------------------------------
@require_GET
@role_required(Role.READER)
def queue(request: AuthenticatedHttpRequest) -> HttpResponse:
    summary = selectors.reader_queue_summary(reader=request.user)
    consistency = selectors.intra_reader_agreement(reader=request.user)  # the reader's own figures only
    return render(request, "annotator/queue.html",
                  {"summary": summary, "settings_row": runtime_settings_get(), "consistency": consistency,
                   "progress": selectors.reader_progress(reader=request.user)})


@require_GET
@role_required(Role.READER)
def my_reads_vs_gold(request: AuthenticatedHttpRequest) -> HttpResponse:
    return render(request, "annotator/my_reads_vs_gold.html", {
        "rows": selectors.reader_reads_vs_gold(reader=request.user),
        "after_reads": settings.CHEXGOLD_FEEDBACK_AFTER_READS, "after_hours": settings.CHEXGOLD_FEEDBACK_AFTER_HOURS,
    })


@require_POST
@role_required(Role.READER)
def queue_next(request: AuthenticatedHttpRequest) -> HttpResponse:
    reread = services.reread_next_assign(reader=request.user)
    if reread is not None:
        return redirect("annotator:reread", report_id=reread.id)
    report = services.next_report_assign(reader=request.user)
    if report is None:
        messages.info(request, "Nothing left to read. Thank you!")
        return redirect("annotator:queue")
    return redirect("annotator:review", report_id=report.id)


def _row_context(*, values: dict[str, str], machine: selectors.MachineLabels | None, guidelines: dict) -> list[dict[str, Any]]:
    rows = []
    for obs in OBSERVATIONS:
        name = obs.value
        rule = machine.rules.get(name) if machine and machine.rules else None
        model = machine.model.get(name) if machine and machine.model else None
        cell = machine.cells.get(name) if machine else None
        prob = None
        if machine and machine.probabilities and machine.probabilities.get(name):
            prob = max(machine.probabilities[name].values())
        rows.append(
            {
                "name": name, "slug": obs.slug, "jump_key": obs.jump_key, "value": values.get(name, ""), "rule": rule,
                "model": model, "prob": prob,
                "differs": rule is not None and model is not None and rule != model,
                "guideline": guidelines[name],
                # Provenance of the pre-filled value (labeling.routing): its source, or contested.
                "contested": bool(cell and cell.contested), "source": cell.source if cell else None,
                "source_version": cell.source_version if cell else None,
            }
        )
    return rows


def _render_review(request: AuthenticatedHttpRequest, report: Report, *, values: dict[str, str], machine: selectors.MachineLabels | None,
                   status: int, error: str = "", **context: Any) -> HttpResponse:
    """The one builder of the review page (first reads, drafts, submitted reads,
    deliberate re-reads): the label rows, the page's JavaScript data, the access
    record. `context` overrides the defaults of a fresh, unsubmitted read."""
    defaults: dict[str, Any] = {
        "report": report, "annotation": None, "version": 0, "submitted": False, "first_read": False, "reread": False,
        "gold": None, "gold_rows": [], "warnings": [], "draft_url": "", "time_before": 0.0,
        "show_study_date": selectors.report_metadata_visible(user=request.user),
    }
    defaults.update(context)
    defaults.update({
        "machine": machine,
        "rows": _row_context(values=values, machine=machine, guidelines=selectors.guidelines_current()),
        "label_values": LABEL_VALUES,
        "error": error,
        "flag_form": FlagForm(),
        "page_data": {
            "text": report.text,
            "sections": selectors.sections_for_js(report=report),
            "evidence": machine.evidence if machine else {},
            "draftUrl": defaults.pop("draft_url"),
            "readOnly": defaults["submitted"],
            "timeBefore": defaults.pop("time_before"),
        },
    })
    report_access_record(user=request.user, report_ids=[report.id], request=request)
    return render(request, "annotator/review.html", defaults, status=status)


def _review_page(request: AuthenticatedHttpRequest, report: Report, *, warnings: list | None = None, posted: dict[str, str] | None = None,
                 error: str = "", status: int = 200) -> HttpResponse:
    reader = request.user
    annotation = selectors.annotation_of_reader(reader=reader, report=report)
    submitted = annotation is not None and annotation.status == Annotation.Status.SUBMITTED
    first_read = not submitted and services.review_first_read_required(annotation=annotation)
    machine = None if first_read else selectors.machine_labels_for_report(report=report)
    if posted is not None:
        values = posted
    elif annotation is not None:
        values = annotation.labels
    elif machine is not None:
        values = machine.prefill  # "" where nothing is pre-filled: the reader must choose
    else:
        values = {o.value: "" for o in OBSERVATIONS}
    gold = selectors.gold_feedback_for_reader(reader=reader, report=report) if submitted else None
    return _render_review(
        request, report, values=values, machine=machine, status=status, error=error,
        annotation=annotation, version=annotation.version if annotation else 0, submitted=submitted, first_read=first_read,
        can_reopen=submitted and annotation is not None and not selectors.read_is_used(annotation=annotation),
        gold=gold, gold_rows=[(o.value, gold.labels.get(o.value), values.get(o.value)) for o in OBSERVATIONS] if gold else [],
        warnings=warnings or [], draft_url=reverse("annotator:review_draft", args=[report.id]),
        time_before=annotation.time_spent_seconds if annotation else 0.0,
    )


def _report_or_404(request: AuthenticatedHttpRequest, report_id: int) -> Report:
    report = selectors.report_for_reader(reader=request.user, report_id=report_id)
    if report is None:
        raise Http404("No such report in your queue.")
    return report


@require_GET
@role_required(Role.READER)
def review(request: AuthenticatedHttpRequest, report_id: int) -> HttpResponse:
    return _review_page(request, _report_or_404(request, report_id))


@require_POST
@role_required(Role.READER)
def review_draft(request: AuthenticatedHttpRequest, report_id: int) -> JsonResponse:
    report = _report_or_404(request, report_id)
    try:
        body = json.loads(request.body or b"{}")
        labels = body.get("labels") or {}
        expected = int(body.get("version", 0))
        if not isinstance(labels, dict):
            raise ValueError
    except (ValueError, TypeError):
        return JsonResponse({"detail": "expected JSON {labels: {...}, version: n}"}, status=400)
    try:
        annotation = services.annotation_draft_save(
            reader=request.user, report=report, labels=labels, expected_version=expected,
            time_spent_seconds=_float_or_none(str(body.get("time_spent", "")) or None),
        )
    except services.StaleVersion as exc:
        return JsonResponse({"detail": str(exc)}, status=409)
    except services.ReviewError as exc:
        return JsonResponse({"detail": str(exc)}, status=400)
    return JsonResponse({"version": annotation.version, "saved_at": annotation.updated_at.isoformat()})


@require_POST
@role_required(Role.READER)
def review_submit(request: AuthenticatedHttpRequest, report_id: int) -> HttpResponse:
    report = _report_or_404(request, report_id)
    labels = _labels_from_post(request.POST)
    try:
        result = services.annotation_submit(
            reader=request.user, report=report, labels=labels,
            expected_version=_int_or_zero(request.POST.get("version")),
            time_spent_seconds=_float_or_none(request.POST.get("time_spent")),
            override_warnings=request.POST.get("override") == "1",
        )
    except services.ReviewError as exc:
        status = 409 if isinstance(exc, (services.StaleVersion, services.NoCapacity)) else 400
        return _review_page(request, report, posted=labels, error=str(exc), status=status)
    if not result.submitted:
        return _review_page(request, report, warnings=result.warnings, posted=labels)
    # Say only that it was saved: whether it made gold would tell a second reader what the first read.
    messages.success(request, f"Submitted {report.external_id}: your read is saved.")
    # Straight on to the next report (the fast path of the keyboard flow).
    reread_report = services.reread_next_assign(reader=request.user)
    if reread_report is not None:
        return redirect("annotator:reread", report_id=reread_report.id)
    next_report = services.next_report_assign(reader=request.user)
    if next_report is None:
        messages.info(request, "Nothing left to read. Thank you!")
        return redirect("annotator:queue")
    return redirect("annotator:review", report_id=next_report.id)


@require_POST
@role_required(Role.READER)
def review_first_read(request: AuthenticatedHttpRequest, report_id: int) -> HttpResponse:
    report = _report_or_404(request, report_id)
    labels = _labels_from_post(request.POST)
    try:
        services.annotation_first_read_commit(
            reader=request.user, report=report, labels=labels,
            expected_version=_int_or_zero(request.POST.get("version")),
            time_spent_seconds=_float_or_none(request.POST.get("time_spent")),
        )
    except services.ReviewError as exc:
        return _review_page(request, report, posted=labels, error=str(exc), status=400)
    messages.info(request, "First read saved. Machine labels are shown now; revise and submit.")
    return redirect("annotator:review", report_id=report.id)


@require_POST
@role_required(Role.READER)
def review_reopen(request: AuthenticatedHttpRequest, report_id: int) -> HttpResponse:
    report = _report_or_404(request, report_id)
    try:
        services.annotation_reopen(reader=request.user, report=report, expected_version=_int_or_zero(request.POST.get("version")))
    except services.ReviewError as exc:
        return _review_page(request, report, error=str(exc), status=exc.http_status)
    messages.info(request, f"Reopened {report.external_id}: change your read and submit it again.")
    return redirect("annotator:review", report_id=report.id)


@require_POST
@role_required(Role.READER)
def review_skip(request: AuthenticatedHttpRequest, report_id: int) -> HttpResponse:
    report = _report_or_404(request, report_id)
    services.reservation_skip(reader=request.user, report=report)
    messages.info(request, f"Skipped {report.external_id}.")
    return queue_next(request)


@require_POST
@role_required(Role.READER)
def review_flag(request: AuthenticatedHttpRequest, report_id: int) -> HttpResponse:
    report = _report_or_404(request, report_id)
    form = FlagForm(request.POST)
    if not form.is_valid():
        return _review_page(request, report, error="Choose a flag reason.", status=400)
    try:
        services.report_flag(report=report, user=request.user, reason=form.cleaned_data["reason"], note=form.cleaned_data["note"])
    except services.ReviewError as exc:
        return _review_page(request, report, error=str(exc), status=400)
    messages.info(request, f"Flagged {report.external_id}; an admin will look at it.")
    return queue_next(request)


@require_GET
@login_required
def annotation_detail(request: AuthenticatedHttpRequest, annotation_id: int) -> JsonResponse:
    """One's own annotation as JSON (another reader's id answers 404, not 403)."""
    annotation = selectors.annotation_visible_get(user=request.user, annotation_id=annotation_id)
    if annotation is None:
        raise Http404("No such annotation.")
    return JsonResponse(
        {
            "id": annotation.id, "report": annotation.report.external_id, "labels": annotation.labels,
            "first_read_labels": annotation.first_read_labels, "status": annotation.status, "version": annotation.version,
        }
    )


# --- adjudicator ----------------------------------------------------------------------------
def _reread_page(request: AuthenticatedHttpRequest, report: Report, *, posted: dict[str, str] | None = None, error: str = "",
                 status: int = 200) -> HttpResponse:
    """A deliberate re-read: blank rows, no machine labels, no evidence and not the
    reader's first read, so the second read is independent of the first."""
    values = posted or {o.value: "" for o in OBSERVATIONS}
    return _render_review(request, report, values=values, machine=None, status=status, error=error, reread=True)


def _reread_or_404(request: AuthenticatedHttpRequest, report_id: int) -> Report:
    reread = selectors.reread_pending_get(reader=request.user, report_id=report_id)
    if reread is None:
        raise Http404("No re-read of this report is waiting for you.")
    return reread.report


@require_GET
@role_required(Role.READER)
def reread(request: AuthenticatedHttpRequest, report_id: int) -> HttpResponse:
    return _reread_page(request, _reread_or_404(request, report_id))


@require_POST
@role_required(Role.READER)
def reread_submit(request: AuthenticatedHttpRequest, report_id: int) -> HttpResponse:
    report = _reread_or_404(request, report_id)
    labels = _labels_from_post(request.POST)
    try:
        services.reread_submit(reader=request.user, report=report, labels=labels,
                               time_spent_seconds=_float_or_none(request.POST.get("time_spent")))
    except services.ReviewError as exc:
        return _reread_page(request, report, posted=labels, error=str(exc), status=400)
    messages.success(request, f"Re-read of {report.external_id} saved. Thank you!")
    return redirect("annotator:queue")


@require_GET
@role_required(Role.ADJUDICATOR)
def adjudication_list(request: AuthenticatedHttpRequest) -> HttpResponse:
    return render(request, "annotator/adjudication_list.html", {"items": selectors.adjudication_queue(adjudicator=request.user)})


@role_required(Role.ADJUDICATOR)
def adjudicate(request: AuthenticatedHttpRequest, report_id: int) -> HttpResponse:
    view = selectors.adjudication_view_get(adjudicator=request.user, report_id=report_id)
    if view is None:
        raise Http404("No such report to adjudicate.")
    error, status, posted = "", 200, None
    if request.method == "POST":
        posted = _labels_from_post(request.POST)
        expected = request.POST.get("expected_gold") or None
        try:
            services.gold_adjudicate(
                report=view.report, adjudicator=request.user, labels=posted, rationale=request.POST.get("rationale", ""),
                expected_current_gold_id=int(expected) if expected else None,
            )
        except services.GoldConflict as exc:
            error, status = str(exc), 409
            view = selectors.adjudication_view_get(adjudicator=request.user, report_id=report_id) or view
        except services.ReviewError as exc:
            error, status = str(exc), 400
        else:
            messages.success(request, f"Gold labels saved for {view.report.external_id}.")
            items = selectors.adjudication_queue(adjudicator=request.user)
            if items:
                return redirect("annotator:adjudicate", report_id=items[0].report_id)
            return redirect("annotator:adjudication_list")
    machine = selectors.machine_labels_for_report(report=view.report)
    guidelines = selectors.guidelines_current()
    rows = []
    for obs in OBSERVATIONS:
        name = obs.value
        read_values = [r.labels.get(name) for r in view.reads]
        rule = machine.rules.get(name) if machine.rules else None
        model = machine.model.get(name) if machine.model else None
        agreed = (read_values[0] or "") if len(set(read_values)) == 1 else ""
        value: str
        if posted is not None:
            value = posted.get(name, "")
        elif view.current_gold is not None:
            value = view.current_gold.labels.get(name, "")
        else:
            value = agreed
        rows.append(
            {
                "name": name, "slug": obs.slug, "jump_key": obs.jump_key, "value": value, "reads": read_values, "conflict": name in view.conflicts,
                "rule": rule, "model": model, "differs": rule is not None and model is not None and rule != model,
                "guideline": guidelines[name],
            }
        )
    context = {
        "view": view, "rows": rows, "label_values": LABEL_VALUES, "machine": machine, "error": error,
        "report": view.report, "show_study_date": selectors.report_metadata_visible(user=request.user),
        "rationale": request.POST.get("rationale", "") if request.method == "POST" else "",
        "gold_history": selectors.gold_history_of_report(report_id=view.report.id),
        "page_data": {"text": view.report.text, "sections": selectors.sections_for_js(report=view.report), "evidence": machine.evidence},
    }
    report_access_record(user=request.user, report_ids=[view.report.id], request=request)
    return render(request, "annotator/adjudicate.html", context, status=status)


# --- admin pages ------------------------------------------------------------------------------
@role_required(Role.ADMIN)
def manage_users(request: AuthenticatedHttpRequest) -> HttpResponse:
    create_form, role_form = UserCreateForm(), RoleAddForm()
    if request.method == "POST":
        if request.POST.get("action") == "create":
            create_form = UserCreateForm(request.POST)
            if create_form.is_valid():
                data = create_form.cleaned_data
                if get_user_model().objects.filter(username=data["username"]).exists():
                    create_form.add_error("username", "A user with that name exists; add a role below instead.")
                else:
                    try:
                        user_create_or_update(username=data["username"], password=data["password"], roles=[Role(data["role"])])
                    except WeakPassword as exc:
                        create_form.add_error("password", str(exc))
                    else:
                        messages.success(request, f"Created {data['username']}.")
                        return redirect("annotator:manage_users")
        elif request.POST.get("action") == "end_sessions":
            user = get_object_or_404(get_user_model(), id=_int_or_zero(request.POST.get("user_id")))
            user_sessions_end(user=user, by=request.user)
            messages.success(request, f"Logged {user.get_username()} out everywhere.")
            return redirect("annotator:manage_users")
        elif request.POST.get("action") in ("add_role", "remove_role"):
            role_form = RoleAddForm(request.POST)
            if role_form.is_valid():
                user = get_object_or_404(get_user_model(), id=role_form.cleaned_data["user_id"])
                role = Role(role_form.cleaned_data["role"])
                try:
                    if request.POST["action"] == "add_role":
                        user_role_add(user=user, role=role)
                    else:
                        user_role_remove(user=user, role=role, by=request.user, confirmed=role_form.cleaned_data["confirm"])
                except (LastAdmin, ConfirmationRequired) as exc:
                    messages.error(request, str(exc))
                else:
                    messages.success(request, f"Updated roles of {user.get_username()}.")
                return redirect("annotator:manage_users")
        elif request.POST.get("action") == "deactivate":
            user = get_object_or_404(get_user_model(), id=_int_or_zero(request.POST.get("user_id")))
            try:
                user_deactivate(user=user, by=request.user)
            except LastAdmin as exc:
                messages.error(request, str(exc))
            else:
                messages.success(request, f"Deactivated {user.get_username()}: signed out everywhere, reservations released.")
            return redirect("annotator:manage_users")
        elif request.POST.get("action") == "set_password":
            password_form = PasswordSetForm(request.POST)
            if password_form.is_valid():
                user = get_object_or_404(get_user_model(), id=password_form.cleaned_data["user_id"])
                try:
                    user_password_set(user=user, password=password_form.cleaned_data["password"], by=request.user)
                except WeakPassword as exc:
                    messages.error(request, f"Password of {user.get_username()} not changed: {exc}")
                else:
                    if user.pk == request.user.pk:
                        update_session_auth_hash(request, user)  # keep this session; the others end
                    messages.success(request, f"Set a new password for {user.get_username()}.")
            else:
                messages.error(request, "Type a new password.")
            return redirect("annotator:manage_users")
    return render(
        request, "annotator/manage_users.html",
        {"users": users_with_roles(), "create_form": create_form, "role_form": role_form, "roles": [r.value for r in Role],
         "consistency": selectors.intra_reader_agreement(), "role_changes": role_changes_recent()},
    )


@role_required(Role.ADMIN)
def manage_settings(request: HttpRequest) -> HttpResponse:
    runtime, review_row = runtime_settings_get(), selectors.review_settings_get()
    initial = {
        "reads_per_report": runtime.reads_per_report, "reservation_minutes": runtime.reservation_minutes,
        "queue_order": runtime.queue_order, "auto_gold": runtime.auto_gold,
        "prefill": runtime.prefill, "allow_rereads": review_row.allow_rereads,
        "reread_percent": review_row.reread_percent, "anonymise_readers": review_row.anonymise_readers,
        "readers_see_study_metadata": review_row.readers_see_study_metadata,
    }
    form = SettingsForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            services.review_settings_update(**form.cleaned_data)
        except services.ReviewError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, "Settings saved.")
            return redirect("annotator:manage_settings")
    return render(request, "annotator/manage_settings.html", {"form": form})


@role_required(Role.ADMIN)
def manage_gold_versions(request: AuthenticatedHttpRequest) -> HttpResponse:
    form = GoldFreezeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            version = services.gold_set_version_freeze(name=form.cleaned_data["name"], note=form.cleaned_data["note"], user=request.user)
        except services.ReviewError as exc:
            form.add_error("name", str(exc))
        else:
            messages.success(request, f"Froze {version.name}.")
            return redirect("annotator:manage_gold_versions")
    return render(
        request, "annotator/manage_gold_versions.html",
        {"form": form, "versions": selectors.gold_set_versions(), "current_count": selectors.gold_current_count()},
    )


@require_POST
@role_required(Role.ADMIN)
def import_withdraw(request: AuthenticatedHttpRequest, batch_id: int) -> HttpResponse:
    """The Imports page's Withdraw button (`annotator.services.gold.import_batch_withdraw`)."""
    try:
        result = services.import_batch_withdraw(batch_id=batch_id, user=request.user, reason=request.POST.get("reason", ""))
    except NotFound:
        raise Http404("No such import.") from None
    except DomainError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, result.message)
    return redirect("labeling:import_list")


@require_POST
@role_required(Role.ADMIN)
def import_restore(request: AuthenticatedHttpRequest, batch_id: int) -> HttpResponse:
    """The Imports page's Restore button beside a withdrawn batch (`annotator.services.gold.import_batch_restore`)."""
    try:
        result = services.import_batch_restore(batch_id=batch_id, user=request.user)
    except NotFound:
        raise Http404("No such import.") from None
    except DomainError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, result.message)
    return redirect("labeling:import_list")


@require_POST
@role_required(Role.ADMIN)
def label_import(request: AuthenticatedHttpRequest) -> HttpResponse:
    """The Imports page's second form: prior labels as gold, reads or predictions
    (`annotator.services.label_import`). Errors re-render the Imports page."""
    form = LabelImportForm(request.POST, request.FILES)
    if form.is_valid():
        data = form.cleaned_data
        kind = data["kind"]
        try:
            result = services.label_upload_import(
                upload=data["file"], kind=kind, user=request.user, zero_means=data["zero_means"], replace=data["replace"],
                file_format=data.get("file_format") or "auto",
                reader=data["reader"] if kind == "reads" else None, labeler=data["labeler"] if kind == "predictions" else None,
            )
        except DomainError as exc:
            form.add_error(None, str(exc))
        else:
            if result.ok:
                messages.success(request, result.message)
                for note in result.notes:
                    messages.info(request, note)
                return redirect("labeling:import_list")
            for problem in result.errors[:200]:
                form.add_error("file", str(problem))
            form.add_error(None, f"Nothing was imported: {result.filename} failed validation ({len(result.errors)} problem(s)), see below.")
    return render(request, "labeling/imports.html", imports_page_context(label_form=form))


@require_GET
@role_required(Role.ADMIN)
def manage_gold_compare(request: HttpRequest) -> HttpResponse:
    a = get_object_or_404(GoldSetVersion, name=request.GET.get("a", ""))
    b = get_object_or_404(GoldSetVersion, name=request.GET.get("b", ""))
    return render(request, "annotator/manage_gold_compare.html", {"cmp": selectors.gold_set_versions_compare(a=a, b=b)})


@role_required(Role.ADMIN)
def manage_flags(request: AuthenticatedHttpRequest) -> HttpResponse:
    if request.method == "POST":
        flag = get_object_or_404(Flag, id=_int_or_zero(request.POST.get("flag_id")))
        form = FlagResolveForm(request.POST)
        if form.is_valid():
            try:
                services.flag_resolve(flag=flag, admin=request.user, resolution=form.cleaned_data["resolution"], note=form.cleaned_data["note"])
                messages.success(request, f"Resolved the flag on {flag.report.external_id}.")
            except services.ReviewError as exc:
                messages.error(request, str(exc))
        return redirect("annotator:manage_flags")
    open_flags = list(selectors.flags_open())
    if open_flags:  # the page shows each flagged report's text
        report_access_record(user=request.user, report_ids=[f.report_id for f in open_flags], request=request)
    return render(
        request, "annotator/manage_flags.html",
        {"open_flags": open_flags, "resolved": selectors.flags_recently_resolved(), "resolve_form": FlagResolveForm()},
    )


@role_required(Role.ADMIN)
def manage_guidelines(request: AuthenticatedHttpRequest) -> HttpResponse:
    if request.method == "POST":
        form = GuidelineForm(request.POST)
        if form.is_valid():
            try:
                row = services.guideline_update(observation=form.cleaned_data["observation"], text=form.cleaned_data["text"], user=request.user)
                messages.success(request, f"{row.observation}: guideline version {row.version}.")
            except services.ReviewError as exc:
                messages.error(request, str(exc))
        return redirect("annotator:manage_guidelines")
    return render(request, "annotator/manage_guidelines.html", {"guidelines": list(selectors.guidelines_current().values())})


@role_required(Role.ADMIN)
def manage_calibration(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Calibration reports: the rate, periods, which gold reports, readers' accuracy."""
    if request.method == "POST":
        action = request.POST.get("action", "")
        try:
            if action == "rate":
                services.calibration_rate_set(every=_int_or_zero(request.POST.get("every")))
                messages.success(request, "Calibration rate saved.")
            elif action in ("mark", "unmark"):
                report = Report.objects.filter(id=_int_or_zero(request.POST.get("report"))).first()
                if report is None:
                    messages.error(request, "No such report.")
                elif action == "mark":
                    services.calibration_report_mark(report=report, admin=request.user)
                    messages.success(request, f"Report {report.id} is a calibration report.")
                else:
                    services.calibration_report_unmark(report=report)
                    messages.success(request, f"Report {report.id} is no longer served for calibration.")
            elif action == "start":
                services.calibration_period_start(admin=request.user)
                messages.success(request, "Calibration period started.")
            elif action == "end":
                services.calibration_period_end(admin=request.user)
                messages.success(request, "Calibration period ended: readers now see feedback on its calibration reads.")
        except services.ReviewError as exc:
            messages.error(request, str(exc))
        return redirect("annotator:manage_calibration")
    return render(request, "annotator/manage_calibration.html", {
        "every": selectors.review_settings_get().calibration_every,
        "open_period": selectors.calibration_period_open(),
        "periods": list(selectors.calibration_periods()[:20]),
        "reports": list(selectors.calibration_reports()[:200]),
        "accuracy": selectors.calibration_accuracy(),
    })
