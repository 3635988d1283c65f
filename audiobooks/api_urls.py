"""The books API, mounted under ``/api/v1/`` in ``ebookvoice.urls``."""

from __future__ import annotations

from django.urls import path

from . import apis

urlpatterns = [
    path("uploads", apis.UploadStartApi.as_view(), name="api_upload_start"),
    path("uploads/<uuid:upload_id>/finish", apis.UploadFinishApi.as_view(), name="api_upload_finish"),
]
