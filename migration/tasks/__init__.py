"""One module per task of B-1006 (`t<phase>_<n>_<title>.py`), each defining the task's Handler.

A task module imports shared code from the sibling packages, never from another task module.
"""
