"""The two DSPy environments of B-1006 (production 2.6.27, candidate 3.0.1) and running code in them."""
