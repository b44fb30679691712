"""``bistro perf``: how v4 performs against v3, measured on a running service.

``plan`` (what is sent), ``loadgen`` (open and closed loop), ``histogram`` (HDR), ``probe``
(health, cache and rollout readings), ``cachephase``, ``results``, ``recommend``, ``runner``
(one run), ``compare`` (two runs), ``report_html`` and ``dbbench`` (the data layers in process).
"""
