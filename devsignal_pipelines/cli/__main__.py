"""`python -m devsignal_pipelines.cli ...`, the same as the `devsignal` command."""

from devsignal_pipelines.cli.main import main

main()
