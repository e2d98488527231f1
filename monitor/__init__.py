"""Monitoring: timeliness verdicts per agency × report year (``verdicts``), the flags that question a report
(``flags``), the legal deadlines as data (``deadlines`` + ``deadlines.toml``), screenshots kept as evidence
(``screenshots``), the rows the CLI and the web UI show (``rows``) and their Chinese labels (``labels``).

Reads the catalog and the archive (``storage``) and the pure page functions (``parsers``); never the crawler.
"""
