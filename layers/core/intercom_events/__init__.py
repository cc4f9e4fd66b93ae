"""Intercom changes as signed SAP Open Connectors event callbacks.

Layout (dependencies point down the list):
  handlers (functions/*/app.py) -> logic -> store (boto3) and intercom/callbacks (httpx)
  models, config and observability are shared by all.
"""
