"""Storage refusals shown to people; over-cap and over-quota come from ``credits.errors``."""

from __future__ import annotations

from audiobooks.errors import BookError


class UploadNotFound(BookError):
    code = "upload_not_found"
    http_status = 404

    def __init__(self) -> None:
        super().__init__("There is no upload with this id.")


class UploadExpired(BookError):
    code = "upload_expired"
    http_status = 410

    def __init__(self) -> None:
        super().__init__("This upload was not finished in time. Please start it again.")


class UploadIncomplete(BookError):
    code = "upload_incomplete"
    http_status = 409

    def __init__(self) -> None:
        super().__init__(
            "We haven't received the file for this upload yet. Upload it to the link you were given, "
            "then finish the upload."
        )


class UploadMismatch(BookError):
    code = "upload_mismatch"
    http_status = 422

    def __init__(self, problem: str) -> None:
        super().__init__(
            f"The uploaded file is not the one that was announced: {problem}. Please start again."
        )
