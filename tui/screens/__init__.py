"""The app's screens: the main designer screen, and the dialogs and views it opens.

Every screen here but the main one names ``DIALOG_CSS`` as its ``CSS_PATH``: Textual reads that file when the
first of them opens, so the app's first frame parses only the main screen's styles (tui/app.tcss).
"""

DIALOG_CSS = "dialogs.tcss"
"""The dialogs' and views' style sheet, beside this file (a CSS_PATH is relative to the screen's module)."""
