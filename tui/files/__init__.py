"""Where designs come from and what the app keeps between sessions; small modules that never import textual.

- ``tui.files.sources``: a design's source (a preset id or a design file) and the read-only presets folder.
- ``tui.files.open_choices``: what the open dialog and the command palette offer (presets, recent files,
  designs and Keras models in the current folder).
- ``tui.files.recent``: the design files opened or saved lately.
- ``tui.files.recovery``: the state directory, the crash-recovery file and the crash log.
- ``tui.files.preferences``: the user's preferences (the latency budget).
"""
