"""A reader's pronunciation lexicon: its entries, the checks on them, their files, and the words to fix.

``tts_engine.lexicon`` decides what an entry makes an engine say; this
package stores entries per reader (and per book), checks them, picks the ones
each Part of a conversion needs (``voicing``), reads and writes them as PLS
and CSV (``formats``), and finds a book's likely problem words (``problem_words``).
"""
