"""Scrapy spiders: feeds and config-driven sites."""
