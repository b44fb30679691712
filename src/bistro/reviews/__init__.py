"""Reviews and the restaurant rating aggregate they keep in step."""
