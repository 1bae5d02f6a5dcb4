"""The app's jobs (train, export, search): what the app starts, how they run, and what they leave behind.

- ``tui.jobs.events``: the seam the app sees, the JobRunner protocol and the events a job streams (Progress,
  Log, Metric, Queued, Finished), with ``UnavailableRunner`` and the ``FakeRunner`` tests use.
- ``tui.jobs.process``: the real runner, the training and export workers (and the search command) as child
  processes, their protocol events translated into the app's.
- ``tui.jobs.deferred``: a runner that builds the real one on first use, so start-up pays none of its imports.
- ``tui.jobs.settings``: the train and export forms' values, validated and remembered between sessions.
- ``tui.jobs.search``: the search job, its settings, its child process and its events.
- ``tui.jobs.run_index``: the runs the train jobs leave in ``runs/``, found by the design they trained (the
  budget panel's accuracy, the export form's source run). It is here, not beside the file helpers, because it
  reads what these jobs write and the job settings are its other user.
- ``tui.jobs.app_words``: a job's messages in the app's words (a form's field where a worker says a CLI flag).

This package's top imports nothing, and none of these modules imports textual: the app imports them where a
job first needs them, so its first frame pays for none but ``deferred`` (tests/tui/test_start_up.py checks).
"""
