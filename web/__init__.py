"""The web UI (``xxgk serve``): FastAPI + Jinja2, server-rendered, Simplified Chinese, no JavaScript.

``app`` wires the pages and their JSON twins; one module per page builds the data both share (``dashboard``,
``agency``, ``report``, ``captures``, ``diff``, ``search``, ``runs``); ``urls`` builds every link (pages, API,
exports, archived bytes); ``replay`` makes archived bytes safe to show, every link in them leading into the archive,
and ``spellings`` finds a URL there however it was percent-encoded; ``exports`` writes CSV/XLSX/JSON; ``chart``
lays out the SVG bars; ``labels`` and ``summaries`` turn catalog rows into what the pages say. The web reads the
catalog and the archive and writes nothing.
"""
