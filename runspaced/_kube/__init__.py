"""The API client layer: the only package that sends requests to the Kubernetes API.

It contains the raw transport over a kubernetes-asyncio `ApiClient`, error translation,
back-off, the resilient list-then-watch, pod requests and the pod manifest. It has no
notion of waiters or runspace states.
"""
