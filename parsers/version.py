"""The version of the parsers, stored with every record they produce (``reports.parser_version``).

Bump it (the date of the change) whenever a change to ``parsers`` alters the records it gives for the same bytes:
classification, report year, dates, agency, format, tables. ``xxgk reparse`` then brings the archived reports up to
date, and each report row says which version produced it.
"""
from __future__ import annotations

PARSER_VERSION = "2026.12.2.4"  # 2026.11.29.2: scanned pages read by OCR (text_source); .3: no agency from a contents page, wrapped names whole; 2026.12.1: an HTML page's main text from trafilatura's own extraction (no readability/jusText comparison); .2: a site's error page answered with 200 ("页面不存在") is kind error_page, whatever its listing title; .3: a page the listing names by its year alone ("2012年度") is a report only by its content, not by a report title among its links; 2026.12.2: a draft (征求意见稿, 审核稿, 草案 …) by its title is no report; .1: a web page with next to no text, no table and no attachment is kind blank_page, whatever its listing title; .2: news, a meeting or a note about a report (its headline or a story's opening, no section, table or attachment of the report) is kind report_news; a listing title cut inside the disclosure words ("…2024年政…") may be that year's report; .3: a title naming the year a report came out in yields to a 统计期限 of the year before when the report was signed or published before the title's year ended; a year not over when it came out (its plans) names the report only when the text names no earlier one; .4: a title's agency past a column tag (【年度报告】), a merged office in brackets, a year range, or named in brackets after the title
