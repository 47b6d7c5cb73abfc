"""The scripts here run under ``mpiexec`` (started by the tests one folder up): pytest's
``--doctest-modules`` must not import them, which would run them on one process."""

collect_ignore_glob = ["*.py"]
