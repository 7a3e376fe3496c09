"""Collect: the Scrapy layer that fetches feeds and pages, and extraction of article content."""
