"""OpenAPI v3 documents and unknown-field pruning for the simulated API server.

The schemas are derived from kubernetes-asyncio's generated models, which carry every
field and type of the real OpenAPI document, so nothing here is a hand-written schema
apart from the patch metadata of list fields and a few scalar types.

- `models`: reads the models into a `Catalog` of definitions (imports them lazily).
- `schemas`: renders the catalog as ``components.schemas``.
- `document`: the per-group-version documents with their paths and hashes.
- `handler`: serves /openapi/v3 and /openapi/v3/<group-version>.
- `fields`: drops the fields of a body that its kind's schema does not define and applies
  the fieldValidation directive (Ignore, Warn, Strict).

NOTE: the protobuf form and /openapi/v2 are not served. kubectl 1.29 and later use v3
only. kubectl 1.28 and older fetch /openapi/v2 as protobuf, so they need
--validate=false for create and apply, and their explain fails with NotFound.
"""

from .fields import FieldValidation, prune_unknown_fields
from .handler import OPENAPI_V3_ROOT, serve_openapi
from .models import Kind

__all__ = ["OPENAPI_V3_ROOT", "FieldValidation", "Kind", "prune_unknown_fields", "serve_openapi"]
