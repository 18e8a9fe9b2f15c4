"""The API client layer: the only package that sends requests to the Kubernetes API.

It holds the raw transport over a kubernetes-asyncio `ApiClient`, error translation,
back-off, the resilient list-then-watch, pod requests and the pod manifest. It knows
nothing about waiters or runspace states.
"""
