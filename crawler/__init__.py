"""Scrapy project of xxgk-watch: spiders, middlewares, pipelines and the `xxgk` CLI."""

PROJECT_URL = "https://github.com/xxgk-watch/xxgk-watch"
# Names the project and a contact page, as a government webmaster would want to see in the logs.
USER_AGENT = f"xxgk-watch/0.1 (+{PROJECT_URL}; annual-report timeliness research)"
