"""`python -m idf_etl` runs the command line."""

from idf_etl.cli import main

main()
