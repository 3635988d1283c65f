"""What operators' commands need beyond the services: figures read from the database, the convert job.

``stats`` (the ``stats`` command, the status page and the metrics read their
figures here) and ``convert_job`` (``manage.py convert``'s account, waits and files).
"""
