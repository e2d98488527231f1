"""Where fetched bytes and everything known about them are kept.

- ``objects``: the object store (a local directory, or an S3 bucket through minio).
- ``warc``: WARC 1.1 records, one gzip member each; ``spool``: segments while they are written.
- ``catalog``: the SQL catalog (SQLite or PostgreSQL) with its migrations and queries.
- ``archive``: the facade the crawler calls (``Archive.open(config).record_fetch(...)``); ``reader`` reads
  captures back; ``recovery`` finishes what a dead writer left; ``export`` and ``verify`` back the CLI.
- ``config``: settings from the environment.
"""
