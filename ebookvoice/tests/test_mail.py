"""Local email: one .eml file a message under var/mail/, and one plain line that says where it went."""

from __future__ import annotations

import email
import email.policy
import io
import re
import sys

from django.core.mail import EmailMultiAlternatives, get_connection

MAIL_BACKEND = "ebookvoice.mail.LocalMailBackend"


def send(settings, tmp_path, *messages: EmailMultiAlternatives) -> int:
    settings.EMAIL_BACKEND = MAIL_BACKEND
    settings.EMAIL_FILE_PATH = tmp_path / "mail"
    return get_connection().send_messages(list(messages))


def test_each_email_is_an_eml_file_with_both_parts_announced_in_one_plain_line(settings, tmp_path, capfd):
    message = EmailMultiAlternatives(
        "eBookVoice: Your sign-in code", "Your code:\n\nBCDF-GHJK\n", "noreply@localhost", ["ada@example.com"]
    )
    message.attach_alternative("<p>Your code: <strong>BCDF-GHJK</strong></p>", "text/html")
    assert send(settings, tmp_path, message) == 1

    [path] = (tmp_path / "mail").glob("*.eml")
    assert re.fullmatch(r"\d{8}-\d{6}-ebookvoice-your-sign-in-code-[0-9a-f]{6}\.eml", path.name)
    parsed = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    assert (parsed["Subject"], parsed["To"]) == ("eBookVoice: Your sign-in code", "ada@example.com")
    plain = parsed.get_body(preferencelist=("plain",))
    html = parsed.get_body(preferencelist=("html",))
    assert plain is not None
    assert "BCDF-GHJK" in plain.get_content()
    assert html is not None
    assert "<strong>BCDF-GHJK</strong>" in html.get_content()
    out = capfd.readouterr().out
    assert out == f'mail to ada@example.com: "eBookVoice: Your sign-in code" → {path}\n'


def test_the_line_goes_to_the_real_stdout_even_where_celery_turned_stdout_into_a_logger(
    settings, tmp_path, capfd, monkeypatch
):
    swallowed = io.StringIO()  # what a worker's redirected stdout would turn into a log record
    monkeypatch.setattr(sys, "stdout", swallowed)
    message = EmailMultiAlternatives("Ready", "It is ready.", "noreply@localhost", ["ada@example.com"])
    send(settings, tmp_path, message)
    assert swallowed.getvalue() == ""
    assert capfd.readouterr().out.startswith('mail to ada@example.com: "Ready" → ')


def test_a_message_without_recipients_writes_nothing(settings, tmp_path, capfd):
    assert send(settings, tmp_path, EmailMultiAlternatives("Nobody", "x", "noreply@localhost", [])) == 0
    assert not (tmp_path / "mail").exists() or not any((tmp_path / "mail").iterdir())
    assert capfd.readouterr().out == ""
