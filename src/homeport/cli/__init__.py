"""The `platform` command-line client: Platform.sh's CLI, re-done for Homeport.

Everything under this package uses the standard library only and must never import
the server (``homeport.web``, ``homeport.domain``...): the client is handed out as a
standalone file for app containers and CI images. Modules are imported lazily so a
run pays only for the command it runs.
"""
