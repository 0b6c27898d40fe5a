"""Admin pages for imports and exports. Thin: parse, call a service, render."""

from __future__ import annotations

from django import forms
from django.http import HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.utils.http import content_disposition_header
from django.views.decorators.http import require_GET

from accounts.access import AuthenticatedHttpRequest, role_required
from accounts.roles import Role
from api.errors import DomainError
from labeling.forms import LabelImportForm
from labeling.label_studio import label_studio_config
from labeling.models import ImportBatch
from labeling.selectors import import_batches_recent, label_imports_recent
from labeling.services.exports import gold_export_open, label_studio_export_open
from labeling.services.upload_validation import upload_validate
from labeling.services.uploads import report_upload_accept


class ReportUploadForm(forms.Form):
    file = forms.FileField(label="Report file (CSV or JSONL)")


@role_required(Role.ADMIN)
def import_list(request: AuthenticatedHttpRequest) -> HttpResponse:
    if request.method == "POST":
        form = ReportUploadForm(request.POST, request.FILES)
        if form.is_valid():
            upload = form.cleaned_data["file"]
            # The same validation as the API: nothing is queued if any row is bad.
            problems = upload_validate(upload=upload)
            if not problems:
                report_upload_accept(upload=upload, user=request.user)
                return redirect("labeling:import_list")
            for problem in problems[:200]:
                form.add_error("file", str(problem))
            form.add_error(None, f"0 reports imported: {upload.name} failed validation ({len(problems)} problem(s)), see the errors below.")
    else:
        form = ReportUploadForm()
    return render(request, "labeling/imports.html", imports_page_context(form=form))


def imports_page_context(*, form: forms.Form | None = None, label_form: forms.Form | None = None) -> dict[str, object]:
    """What the Imports page shows: both upload forms (the label form posts to
    `annotator:label_import`, which renders this page again with its errors)
    and the recent report and label imports."""
    return {"form": form or ReportUploadForm(), "label_form": label_form or LabelImportForm(),
            "batches": import_batches_recent(), "label_imports": label_imports_recent()}


@require_GET
@role_required(Role.ADMIN)
def import_status(request: HttpRequest, batch_id: int) -> JsonResponse:
    batch = ImportBatch.objects.filter(id=batch_id).values(
        "id", "status", "progress", "rows_read", "rows_created", "rows_unchanged", "message", "errors", "deid_findings"
    ).first()
    if batch is None:
        return JsonResponse({"detail": "not found"}, status=404)
    return JsonResponse(batch)


@require_GET
@role_required(Role.ADMIN)
def label_studio_export_download(request: HttpRequest) -> HttpResponse | StreamingHttpResponse:
    """The Imports page's Label Studio links: the tasks (JSON) or, with ?config=1, the labeling config (XML)."""
    if request.GET.get("config"):
        response = HttpResponse(label_studio_config(), content_type="application/xml; charset=utf-8")
        response["Content-Disposition"] = content_disposition_header(True, "label-studio-config.xml")
        return response
    try:
        export = label_studio_export_open(user=request.user, sources=request.GET.getlist("source") or None, request=request)
    except DomainError as exc:
        return HttpResponse(str(exc), status=exc.http_status, content_type="text/plain")
    stream = StreamingHttpResponse(export.chunks, content_type=export.content_type)
    stream["Content-Disposition"] = content_disposition_header(True, export.filename)
    return stream


@require_GET
@role_required(Role.ADMIN)
def gold_export_download(request: HttpRequest) -> HttpResponse | StreamingHttpResponse:
    try:
        export = gold_export_open(user=request.user, fmt=request.GET.get("format", "csv"),
                                  version_name=request.GET.get("version"), request=request, uncertain=request.GET.get("uncertain"))
    except DomainError as exc:
        return HttpResponse(str(exc), status=exc.http_status, content_type="text/plain")
    response = StreamingHttpResponse(export.chunks, content_type=export.content_type)
    response["Content-Disposition"] = content_disposition_header(True, export.filename)  # the name may hold a version name
    return response
