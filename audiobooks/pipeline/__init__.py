"""A conversion's whole life: from its submission to a mastered M4B, or to its early end.

The database is the truth and a Celery message only a nudge, so every step
can be sent twice, lost, or run by a worker that is then killed. Each step
sends the next by name (``ebookvoice.enqueue``), never importing the tasks:

0. ``submit.conversion_submit`` charges and records the Conversion and its
   Parts (``parts`` cuts the chapters), in one transaction;
   ``submit.conversion_cancel`` is the reader's way out.
1. ``dispatch.parts_dispatch`` keeps at most ``conf.in_flight_limit()`` Parts
   in the broker, picked round-robin across running conversions and in
   reading order within each (a long book never starves a short story).
2. ``render.part_render`` (synthesis queue) claims a Part by compare-and-swap,
   reuses the render cache or renders and stores it, heartbeats meanwhile
   (``heartbeat``), and marks the Part done; the last Part of a chapter sends
   the chapter on.
3. ``mastering.chapter_master`` (light queue) joins the chapter's Parts
   (``sources``), masters them to ACX levels and stores its MP3 and
   captions: the chapter can be played now.
4. ``assemble.conversion_assemble`` (light queue) builds the M4B once every
   chapter is ready, and completes the Conversion.
5. ``reaper.conversions_reap`` (beat) requeues Parts whose worker vanished,
   re-sends what a lost message left waiting, and fails work out of attempts;
   ``outcomes`` fails or cancels a Conversion and refunds it exactly once,
   and lets staff cancel or retry one.

``progress`` says where a conversion stands, for pages, the API and the terminal.
"""
