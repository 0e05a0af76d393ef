"""`python -m idf_etl` runs the command line."""

if __name__ == "__main__":
    # Guarded: a process started by multiprocessing's spawn or forkserver imports the
    # main module again under another name, and must not run the CLI a second time.
    from idf_etl.cli.app import main

    main()
