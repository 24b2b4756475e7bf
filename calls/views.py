"""The recording of a call, for the console's audio player: authenticated, company-scoped, seekable (HTTP Range).
An API caller gets a short-lived signed link to it instead (`?sig=`, calls.recording_links), valid without a login."""

import mimetypes
import re

from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import PermissionDenied
from django.core.files.storage import FileSystemStorage
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseRedirect, StreamingHttpResponse
from django.views import View

from calls.models import Call
from calls.recording_links import recording_link_company
from calls.selectors import call_get
from companies.audit import AuditEvent, audit_access_once
from companies.roles import DASHBOARD_ROLES
from companies.tenancy import RoleRequiredMixin

RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")
CHUNK = 64 * 1024


class CallRecordingView(LoginRequiredMixin, RoleRequiredMixin, View):
    allowed_roles = DASHBOARD_ROLES

    def dispatch(self, request, *args, **kwargs):
        if "sig" in request.GET:
            return self._signed(request, kwargs["pk"])
        if request.user.is_authenticated and request.user.is_superuser:
            return View.dispatch(self, request, *args, **kwargs)  # Dialix staff: any company's call
        return super().dispatch(request, *args, **kwargs)

    def _signed(self, request: HttpRequest, pk: int) -> HttpResponse:
        """A link from the API: the signature names the company and the call, and expires."""
        if request.method not in ("GET", "HEAD"):
            return HttpResponse(status=405)
        company_id = recording_link_company(signature=request.GET["sig"], call_id=pk)
        if company_id is None:
            raise PermissionDenied("This recording link is invalid or has expired: ask the API for a new one.")
        try:
            call = call_get(company=None, call_id=pk)
        except Call.DoesNotExist as exc:
            raise Http404("No such call.") from exc
        if call.company_id != company_id:
            raise Http404("No such call.")
        return self._serve(request, call, via="signed_link")

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        company = None if request.user.is_superuser else request._dialix_company
        try:
            call = call_get(company=company, call_id=pk)
        except Call.DoesNotExist as exc:
            raise Http404("No such call.") from exc
        return self._serve(request, call)

    def _serve(self, request: HttpRequest, call: Call, via: str = "console") -> HttpResponse:
        if not call.recording:
            raise Http404("This call has no recording.")
        if request.method == "GET":
            # A player asks with Range (many times per play: one line per person, call and play window); a plain
            # GET is a download. An API link is used without a login: the line names the link and the address.
            event = AuditEvent.RECORDING_PLAYED if "Range" in request.headers else AuditEvent.RECORDING_DOWNLOADED
            audit_access_once(request, call, event, {"via": via}, actor_label="signed-link" if via != "console" else "")
        storage = call.recording.storage
        if not isinstance(storage, FileSystemStorage):
            return HttpResponseRedirect(call.recording.url)  # a bucket: short-lived signed URL, seekable there
        return _ranged_file(request, call.recording.path, call.recording.size)


def _ranged_file(request: HttpRequest, path: str, size: int) -> HttpResponse:
    content_type = mimetypes.guess_type(path)[0] or "application/octet-stream"
    match = RANGE.match(request.headers.get("Range", ""))
    if not match or (not match.group(1) and not match.group(2)):
        response = FileResponse(open(path, "rb"), content_type=content_type)  # noqa: SIM115 - closed by Django
        response["Accept-Ranges"] = "bytes"
        return response
    first, last = match.groups()
    if first:
        start, end = int(first), min(int(last) if last else size - 1, size - 1)
    else:  # "bytes=-N": the last N bytes
        start, end = max(0, size - int(last)), size - 1
    if start >= size or start > end:
        response = HttpResponse(status=416)
        response["Content-Range"] = f"bytes */{size}"
        return response

    def body():
        with open(path, "rb") as fh:
            fh.seek(start)
            left = end - start + 1
            while left > 0:
                chunk = fh.read(min(CHUNK, left))
                if not chunk:
                    break
                left -= len(chunk)
                yield chunk

    response = StreamingHttpResponse(body(), status=206, content_type=content_type)
    response["Content-Range"] = f"bytes {start}-{end}/{size}"
    response["Content-Length"] = str(end - start + 1)
    response["Accept-Ranges"] = "bytes"
    return response
