"""Request handlers of the simulated API server, one module per concern.

`paths` maps URLs to resources, `objects` serves get/create/update/patch/delete,
`lists` serves paginated lists, `watch` serves watch streams and `table` renders the
Table form kubectl asks for.
"""
