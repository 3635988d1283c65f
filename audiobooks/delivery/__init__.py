"""What a finished conversion gives the reader: links to its files, the ACX export, the email.

``files`` (short-lived links to a conversion's M4B, MP3s and captions, and
the cover), ``acx`` (the ACX export, built while it is sent), ``email`` (the
"your audiobook is ready" message).
"""
