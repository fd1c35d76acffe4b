"""Use cases shared by the command line and the web dashboard.

Each takes the settings and the open store it needs and returns plain data: it neither
parses arguments nor prints, and it closes nothing it did not open.
"""
