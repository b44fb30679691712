"""Totals, rating histogram and top restaurants per cuisine."""
