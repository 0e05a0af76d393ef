"""`python -m idf_etl` runs the command line."""

from idf_etl.cli.app import main

main()
