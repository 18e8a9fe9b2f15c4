"""Single-object verbs: get, create, update (PUT), patch and delete, plus deletecollection.

Each method returns ``(HTTP status, JSON body)``; failures raise `ApiError`. Bodies of
single objects carry ``kind`` and ``apiVersion``.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog

from .. import validation
from ..openapi import FieldValidation
from ..patch import apply_patch
from ..resources import Resource
from ..status import ApiError, already_exists, bad_request, conflict, invalid, not_found
from ..store import AlreadyExists, ObjectStore
from .paths import Target

__all__ = ["ObjectHandlers", "with_kind"]

log = structlog.get_logger("runspaced.sim.api")

JsonObject = dict[str, Any]
Response = tuple[int, JsonObject]

# Metadata fields the server owns; updates and patches cannot change them.
_SYSTEM_METADATA = (
    "uid",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "generation",
    "namespace",
    "name",
)
_STALE_MESSAGE = (
    "the object has been modified; please apply your changes to the latest version and try again"
)


def with_kind(resource: Resource, obj: JsonObject) -> JsonObject:
    """Return the object with ``kind`` and ``apiVersion`` first, as single objects are sent."""
    return {"kind": resource.kind, "apiVersion": resource.api_version, **obj}


def _strip_type_meta(obj: JsonObject) -> JsonObject:
    obj.pop("kind", None)
    obj.pop("apiVersion", None)
    return obj


def _rfc3339(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


class ObjectHandlers:
    """The object verbs over one `ObjectStore`."""

    def __init__(self, store: ObjectStore) -> None:
        self._store = store

    # -- helpers -------------------------------------------------------------------------

    def _require(self, target: Target) -> JsonObject:
        assert target.name is not None
        obj = self._store.get(target.resource.plural, target.namespace, target.name)
        if obj is None:
            raise not_found(target.resource.plural, target.name, target.resource.group)
        return obj

    def _require_namespace(self, namespace: str | None) -> None:
        if namespace is not None and self._store.get("namespaces", None, namespace) is None:
            raise not_found("namespaces", namespace)

    def _check_type_meta(self, resource: Resource, body: JsonObject) -> None:
        kind = body.get("kind")
        api_version = body.get("apiVersion")
        if kind not in (None, "", resource.kind) or api_version not in (
            None,
            "",
            resource.api_version,
        ):
            raise bad_request(
                f"the API version in the data ({api_version}) does not match the expected API "
                f"version ({resource.api_version})"
                if api_version != resource.api_version
                else f"the kind in the data ({kind}) does not match the expected kind "
                f"({resource.kind})"
            )

    # -- get -----------------------------------------------------------------------------

    def get(self, target: Target) -> Response:
        """Return the object (or its status subresource view, which is the same object)."""
        return 200, with_kind(target.resource, self._require(target))

    # -- create --------------------------------------------------------------------------

    def create(
        self,
        target: Target,
        body: Any,
        *,
        dry_run: bool = False,
        fields: FieldValidation | None = None,
    ) -> Response:
        """Validate, default and store a new object; return it with 201 Created.

        With `dry_run` every check runs but nothing is stored, and the returned object has
        no resourceVersion, as with ``dryRun=All``. Fields the kind's schema does not
        define are dropped and handled by `fields` (None: the default directive, Warn).
        """
        resource = target.resource
        if target.name is not None:
            raise ApiError(405, "the server does not allow this method on the requested resource")
        if resource.namespaced and target.namespace is None:
            raise ApiError(404, "the server could not find the requested resource", "NotFound")
        obj = validation.check_object_shape(body, resource.kind)
        self._check_type_meta(resource, obj)
        (fields or FieldValidation()).check_body(resource, obj)
        obj = _strip_type_meta(dict(obj))
        metadata = obj["metadata"]
        body_namespace = metadata.get("namespace")
        if resource.namespaced and body_namespace and body_namespace != target.namespace:
            raise bad_request(
                "the namespace of the provided object does not match the namespace sent on "
                "the request"
            )
        for field in ("uid", "resourceVersion", "deletionTimestamp", "deletionGracePeriodSeconds"):
            metadata.pop(field, None)
        metadata.pop("creationTimestamp", None)
        validation.apply_generate_name(obj)

        if resource.plural == "pods":
            validation.default_pod(obj)
            validation.validate_pod(obj)
        elif resource.plural == "namespaces":
            errors = validation.validate_metadata(obj, name_format="label")
            if errors:
                raise invalid("Namespace", metadata.get("name") or "", errors)
            labels = metadata.setdefault("labels", {})
            labels["kubernetes.io/metadata.name"] = metadata["name"]
            obj.setdefault("spec", {"finalizers": ["kubernetes"]})
            obj["status"] = {"phase": "Active"}
        else:
            errors = validation.validate_metadata(obj)
            if errors:
                raise invalid(resource.kind, metadata.get("name") or "", errors, resource.group)

        # The namespace must exist; checked after validation as the real server does.
        self._require_namespace(target.namespace if resource.namespaced else None)
        if dry_run:
            plural, name = resource.plural, metadata["name"]
            if self._store.get(plural, target.namespace if resource.namespaced else None, name):
                raise already_exists(plural, name, resource.group)
            metadata.setdefault("uid", str(uuid.uuid4()))
            metadata["creationTimestamp"] = _rfc3339(datetime.now(UTC))
            if resource.namespaced:
                metadata["namespace"] = target.namespace
            return 201, with_kind(resource, obj)
        try:
            stored = self._store.create(
                resource.plural, target.namespace if resource.namespaced else None, obj
            )
        except AlreadyExists as error:
            raise already_exists(resource.plural, error.name, resource.group) from error
        return 201, with_kind(resource, stored)

    # -- update and patch ----------------------------------------------------------------

    def _merge_update(
        self, target: Target, current: JsonObject, proposed: JsonObject
    ) -> JsonObject:
        """Return the object to store when `proposed` replaces `current` (PUT or PATCH)."""
        resource = target.resource
        proposed = _strip_type_meta(validation.check_object_shape(proposed, resource.kind))
        metadata = proposed["metadata"]
        if metadata.get("name") not in (None, target.name):
            raise bad_request(
                f"the name of the object ({metadata.get('name')}) does not match the name on "
                f"the URL ({target.name})"
            )
        if (
            resource.namespaced
            and metadata.get("namespace")
            and metadata["namespace"] != target.namespace
        ):
            raise bad_request(
                "the namespace of the provided object does not match the namespace sent on "
                "the request"
            )

        # Optimistic concurrency: a resourceVersion in the body must be the current one.
        requested_rv = metadata.get("resourceVersion")
        if (
            requested_rv not in (None, "")
            and requested_rv != current["metadata"]["resourceVersion"]
        ):
            raise conflict(resource.plural, target.name or "", _STALE_MESSAGE, resource.group)

        for field in _SYSTEM_METADATA:
            if field in current["metadata"]:
                metadata[field] = current["metadata"][field]
            else:
                metadata.pop(field, None)

        if target.subresource == "status":
            # The status subresource changes status only.
            merged = dict(current)
            if "status" in proposed:
                merged["status"] = proposed["status"]
            return merged
        if "status" in current:
            # The main resource ignores status changes, as the real server's strategies do.
            proposed["status"] = current["status"]
        if resource.plural == "pods":
            validation.validate_pod_update(current, proposed)
        elif resource.plural == "namespaces":
            labels = metadata.setdefault("labels", {})
            labels["kubernetes.io/metadata.name"] = target.name
        return proposed

    def _store_update(self, target: Target, new: JsonObject) -> Response:
        resource = target.resource
        assert target.name is not None

        def replace(obj: JsonObject) -> None:
            obj.clear()
            obj.update(new)

        updated = self._store.update(resource.plural, target.namespace, target.name, replace)
        if updated is None:
            raise not_found(resource.plural, target.name, resource.group)
        return 200, with_kind(resource, updated)

    def update(
        self, target: Target, body: Any, *, fields: FieldValidation | None = None
    ) -> Response:
        """Replace the object (PUT); a stale metadata.resourceVersion gets 409 Conflict.

        Fields the kind's schema does not define are dropped and handled by `fields`.
        """
        current = self._require(target)
        proposed = validation.check_object_shape(body, target.resource.kind)
        self._check_type_meta(target.resource, proposed)
        (fields or FieldValidation()).check_body(target.resource, proposed)
        new = self._merge_update(target, current, dict(proposed))
        return self._store_update(target, new)

    def patch(
        self,
        target: Target,
        content_type: str,
        body: Any,
        *,
        fields: FieldValidation | None = None,
    ) -> Response:
        """Apply a merge, strategic merge or JSON patch to the object.

        Fields of the patched object that the kind's schema does not define are dropped
        and handled by `fields`.
        """
        current = self._require(target)
        patched = apply_patch(content_type, with_kind(target.resource, current), body)
        self._check_type_meta(target.resource, patched)
        (fields or FieldValidation()).check_patch(target.resource, patched, content_type, body)
        new = self._merge_update(target, current, patched)
        return self._store_update(target, new)

    # -- delete --------------------------------------------------------------------------

    def delete(self, target: Target, options: JsonObject) -> Response:
        """Delete the object; pods delete gracefully unless the grace period is 0.

        Pods and namespaces return the object (200); other kinds return a Success Status.
        `options` is a DeleteOptions dict (gracePeriodSeconds, preconditions).
        """
        resource = target.resource
        current = self._require(target)
        assert target.name is not None
        self._check_preconditions(target, current, options.get("preconditions") or {})
        if resource.plural == "pods":
            return self._delete_pod(target, current, options)

        removed = self._store.remove(resource.plural, target.namespace, target.name)
        if removed is None:
            raise not_found(resource.plural, target.name, resource.group)
        if resource.plural == "namespaces":
            # NOTE: the namespace goes at once, with its objects left in the store; a real
            # server sets phase Terminating and deletes the contents first.
            return 200, with_kind(resource, removed)
        details: JsonObject = {"name": target.name, "kind": resource.plural}
        if resource.group:
            details["group"] = resource.group
        details["uid"] = removed["metadata"]["uid"]
        return 200, {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Success",
            "details": details,
        }

    def _check_preconditions(
        self, target: Target, current: JsonObject, preconditions: JsonObject
    ) -> None:
        uid = preconditions.get("uid")
        if uid and uid != current["metadata"]["uid"]:
            raise conflict(
                target.resource.plural,
                target.name or "",
                f"Precondition failed: UID in precondition: {uid}, UID in object meta: "
                f"{current['metadata']['uid']}",
                target.resource.group,
            )
        rv = preconditions.get("resourceVersion")
        if rv and rv != current["metadata"]["resourceVersion"]:
            raise conflict(
                target.resource.plural,
                target.name or "",
                f"Precondition failed: ResourceVersion in precondition: {rv}, ResourceVersion "
                f"in object meta: {current['metadata']['resourceVersion']}",
                target.resource.group,
            )

    def _delete_pod(self, target: Target, pod: JsonObject, options: JsonObject) -> Response:
        assert target.name is not None
        spec = pod.get("spec") or {}
        requested = options.get("gracePeriodSeconds")
        grace = (
            int(requested)
            if requested is not None
            else spec.get("terminationGracePeriodSeconds", 30)
        )
        grace = max(grace, 0)

        # An unscheduled or finished pod has no containers to stop: it goes at once.
        phase = (pod.get("status") or {}).get("phase")
        if not spec.get("nodeName") or phase in ("Succeeded", "Failed"):
            grace = 0

        if grace == 0:
            # NOTE: metadata.finalizers are not honoured: the pod goes now, where a real
            # server keeps it with a deletionTimestamp until the finalizers are removed.
            removed = self._store.remove("pods", target.namespace, target.name)
            if removed is None:
                raise not_found("pods", target.name)
            log.info("sim.pod.deleted", namespace=target.namespace, pod=target.name, grace_s=0)
            return 200, with_kind(target.resource, removed)

        metadata = pod["metadata"]
        current_grace = metadata.get("deletionGracePeriodSeconds")
        if current_grace is not None and grace >= current_grace:
            # Already terminating with a shorter or equal grace period: nothing changes.
            return 200, with_kind(target.resource, pod)
        deadline = _rfc3339(datetime.now(UTC) + timedelta(seconds=grace))

        def mark_terminating(obj: JsonObject) -> None:
            obj["metadata"]["deletionTimestamp"] = deadline
            obj["metadata"]["deletionGracePeriodSeconds"] = grace

        updated = self._store.update("pods", target.namespace, target.name, mark_terminating)
        if updated is None:
            raise not_found("pods", target.name)
        log.info("sim.pod.terminating", namespace=target.namespace, pod=target.name, grace_s=grace)
        return 200, with_kind(target.resource, updated)

    def delete_collection(self, target: Target, options: JsonObject, selector: Any) -> Response:
        """Delete every object of the collection that matches `selector`; return a Status.

        .. note:: The real server returns the list of deleted objects here, not a Status.
        """
        resource = target.resource
        namespace = target.namespace if resource.namespaced else None
        for obj in list(self._store.list(resource.plural, namespace)):
            if not selector.matches(obj):
                continue
            name = obj["metadata"]["name"]
            item = Target(resource, obj["metadata"].get("namespace"), name, None)
            try:
                self.delete(item, options)
            except ApiError as error:
                log.info("sim.delete_collection.item_skipped", name=name, code=error.code)
        return 200, {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Success",
        }
