"""The Scrapy project of xxgk-watch: settings, the reports spider, middlewares (archiving, conditional GET, fetch
errors), the parse pipeline, items, and `run` (one crawl in a child process)."""

PROJECT_URL = "https://github.com/xxgk-watch/xxgk-watch"
# Names the project and a contact page, as a government webmaster would want to see in the logs.
USER_AGENT = f"xxgk-watch/0.1 (+{PROJECT_URL}; annual-report timeliness research)"
