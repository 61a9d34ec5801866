"""The analytics domain: plain Python, no framework imports."""
