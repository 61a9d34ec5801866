"""The customer archive's domain: plain Python, no framework imports."""
