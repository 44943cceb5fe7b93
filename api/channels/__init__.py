"""The channels: each translates its protocol into a customer turn and back, and
nothing more. Who answers, and what is stored, is decided in api/services/turn.py.

- web.py: the web chat page's HTTP API (cookie identity, idempotent client retries)
- wechat.py: the WeChat callback's HTTP (signature, safe mode, passive reply);
  wechat_inbox.py: one job per WeChat delivery and the passive-or-API decision;
  outbox.py: the states of a message owed to a WeChat customer;
  wechat_sender.py: the one sender through WeChat's customer-service API
The protocols themselves (WeChat signatures, AES and XML; the Rasa REST client) are in
bot/, with no transport of the service's and no database.
"""
