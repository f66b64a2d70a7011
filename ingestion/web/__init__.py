"""Web pages as documents: the SSRF guard, fetching with robots.txt, crawling, and its Celery task."""
