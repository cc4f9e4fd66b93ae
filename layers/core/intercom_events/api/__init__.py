"""The API function's routes, one Powertools Router per tag, and how the API answers errors.

errors.py      the error body, the exception mappers, the error answers each route documents
common.py      what every route module reads: the caller, the instance id in the path
instances.py   Instances: create, read, change, enable, delete; the OAuth consent URL
polling.py     Polling: poll now, backfill
events.py      Events: the event log, replays
webhooks.py    Webhooks: Intercom's notifications
operations.py  Operations: health
"""
