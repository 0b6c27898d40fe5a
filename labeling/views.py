"""Admin pages for imports and exports. Thin: parse, call a service, render."""

from __future__ import annotations

from django import forms
from django.http import HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET

from accounts.access import role_required
from accounts.roles import Role
from labeling.models import ImportBatch
from labeling.selectors import gold_labels_for_export, gold_set_version_get, import_batches_recent
from labeling.services.exports import gold_label_set_export
from labeling.services.uploads import report_upload_accept
from privacy.services.access_audit import report_access_record


class ReportUploadForm(forms.Form):
    file = forms.FileField(label="Report file (CSV or JSONL)")


@role_required(Role.ADMIN)
def import_list(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        form = ReportUploadForm(request.POST, request.FILES)
        if form.is_valid():
            report_upload_accept(upload=form.cleaned_data["file"], user=request.user)
            return redirect("labeling:import_list")
    else:
        form = ReportUploadForm()
    return render(request, "labeling/imports.html", {"form": form, "batches": import_batches_recent()})


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
def gold_export_download(request: HttpRequest) -> HttpResponse:
    fmt = request.GET.get("format", "csv")
    if fmt not in ("csv", "jsonl"):
        return HttpResponse("format must be csv or jsonl", status=400, content_type="text/plain")
    version = None
    if request.GET.get("version"):
        version = gold_set_version_get(name=request.GET["version"])
        if version is None:
            return HttpResponse("no such gold-set version", status=404, content_type="text/plain")
    report_ids = gold_labels_for_export(gold_version=version).values_list("report_id", flat=True)
    report_access_record(user=request.user, report_ids=report_ids, request=request)
    content_type = "text/csv" if fmt == "csv" else "application/x-ndjson"
    response = StreamingHttpResponse(gold_label_set_export(fmt=fmt, gold_version=version), content_type=content_type)
    name = f"gold-{version.name if version else 'current'}.{fmt}"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response
