"""The conversion pipeline: from a submitted Conversion's Parts to a mastered M4B.

The database is the truth and a Celery message only a nudge, so every step
can be sent twice, lost, or run by a worker that is then killed:

1. ``dispatch.parts_dispatch`` keeps at most ``conf.in_flight_limit()`` Parts
   in the broker, picked round-robin across running conversions and in
   reading order within each (a long book never starves a short story).
2. ``render.part_render`` (synthesis queue) claims a Part by compare-and-swap,
   reuses the render cache or renders and stores it, heartbeats meanwhile,
   and marks the Part done; the last Part of a chapter sends the chapter on.
3. ``chapters.chapter_master`` (light queue) joins the chapter's Parts,
   masters them to ACX levels and stores its MP3 and captions: the chapter
   can be played now.
4. ``assemble.conversion_assemble`` (light queue) builds the M4B once every
   chapter is ready, and completes the Conversion.
5. ``reaper.conversions_reap`` (beat) requeues Parts whose worker vanished,
   re-sends what a lost message left waiting, and fails work out of attempts;
   ``outcomes`` fails or cancels a Conversion and refunds it exactly once.
"""
