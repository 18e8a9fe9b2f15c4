"""Use a runspace through the sidecar daemon's HTTP API: create, wait, use, delete.

Start a daemon first, for example on the embedded simulated cluster::

    runspaced serve --simulate --time-scale 0.1 &
    python examples/sidecar_client.py --url http://127.0.0.1:8080

The token comes from --token-file or $RUNSPACED_TOKEN_FILE when the daemon requires one.
Any language works the same way: the calls below are plain HTTP and JSON.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import httpx


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default=os.environ.get("RUNSPACED_URL", "http://127.0.0.1:8080"))
    parser.add_argument("--token-file", default=os.environ.get("RUNSPACED_TOKEN_FILE"))
    parser.add_argument("--profile", default="default")
    parser.add_argument("--wait", type=float, default=120.0, help="seconds to wait for ready")
    args = parser.parse_args()

    headers = {}
    if args.token_file:
        headers["Authorization"] = "Bearer " + Path(args.token_file).read_text().strip()

    with httpx.Client(base_url=args.url, headers=headers, timeout=args.wait + 10) as daemon:
        # 1. Create and wait in one request: 201 means ready, 202 still creating,
        #    and a problem+json document explains an error or a timeout.
        response = daemon.post(
            "/v1/runspaces", json={"profile": args.profile}, params={"wait": args.wait}
        )
        if response.status_code != 201:
            body = response.json()
            reason = body.get("detail") or f"still {body.get('phase')}"
            print(f"runspace not ready (HTTP {response.status_code}): {reason}", file=sys.stderr)
            # A 202 body is the runspace itself; a problem names it in runspace_id.
            runspace_id = body.get("runspace_id") or body.get("id")
            if runspace_id:
                daemon.delete(f"/v1/runspaces/{runspace_id}")
            return 1
        runspace = response.json()
        print(f"created {runspace['id']}, ready at {runspace['endpoint']['url']}")

        try:
            # 2. Use it: the endpoint is a plain TCP address; this image serves HTTP.
            answer = httpx.get(runspace["endpoint"]["url"], timeout=10)
            print(f"GET / -> {answer.status_code}: {answer.text.strip()[:80]}")
            if answer.status_code != 200:
                return 1
        finally:
            # 3. Delete it: 202 while terminating, 200 once already gone.
            deleted = daemon.delete(response.headers["Location"])
            print(f"deleted {runspace['id']}: state {deleted.json()['state']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
