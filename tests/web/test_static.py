"""The studio is served locally: page, assets, headers; nothing is fetched from another origin."""

from __future__ import annotations

import re
from pathlib import Path

from fastapi import FastAPI
from fastapi.testclient import TestClient

from openlipsync.web import STATIC_DIR, mount_studio


def _client() -> TestClient:
    app = FastAPI()

    @app.get("/v1/ping")
    def ping() -> dict[str, str]:
        return {"pong": "yes"}

    mount_studio(app)
    return TestClient(app)


def test_index_is_served_at_root_with_a_same_origin_csp() -> None:
    res = _client().get("/")
    assert res.status_code == 200
    assert res.headers["content-type"].startswith("text/html")
    assert "<title>openlipsync studio</title>" in res.text
    csp = res.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "connect-src 'self'" in csp


def test_every_asset_the_page_references_is_served() -> None:
    client = _client()
    html = client.get("/").text
    refs = re.findall(r'(?:src|href)="(studio/[^"]+)"', html)
    assert refs, "the page references its assets under studio/"
    js = sorted((STATIC_DIR / "js").glob("*.js"))
    refs += [f"studio/js/{p.name}" for p in js]
    for ref in refs:
        res = client.get("/" + ref)
        assert res.status_code == 200, ref
    assert client.get("/studio/js/main.js").headers["content-type"].startswith(("text/javascript",
                                                                                   "application/javascript"))


def test_module_imports_resolve_to_files_that_exist() -> None:
    for path in (STATIC_DIR / "js").glob("*.js"):
        for target in re.findall(r'from "\./([^"]+)"', path.read_text()):
            assert (path.parent / target).is_file(), f"{path.name} imports missing {target}"


def test_no_asset_loads_anything_from_another_origin() -> None:
    pattern = re.compile(r"""(?:src|href)=["']https?://|@import\s+url\(["']?https?://|from\s+["']https?://""")
    for path in STATIC_DIR.rglob("*"):
        if path.suffix in {".html", ".js", ".css"}:
            assert not pattern.search(path.read_text()), f"{path.name} references another origin"


def test_api_routes_are_not_shadowed_by_the_studio() -> None:
    client = _client()
    assert client.get("/v1/ping").json() == {"pong": "yes"}
    assert client.get("/studio", follow_redirects=False).status_code in (301, 302, 307)
    assert client.get("/studio/no-such-file.js").status_code == 404


def test_assets_revalidate_and_cannot_escape_the_static_folder() -> None:
    client = _client()
    first = client.get("/studio/js/main.js")
    assert first.headers["cache-control"] == "no-cache" and first.headers.get("etag")
    again = client.get("/studio/js/main.js", headers={"If-None-Match": first.headers["etag"]})
    assert again.status_code == 304
    for sneaky in ("/studio/..%2F__init__.py", "/studio/%2e%2e/__init__.py", "/studio/js"):
        assert client.get(sneaky).status_code == 404, sneaky


def test_the_studio_works_under_the_apps_path_prefix(tmp_path: Path) -> None:
    """Behind a reverse proxy at /api the page and its assets load from /api/... as well."""
    from openlipsync.api import create_app
    from openlipsync.config import Settings

    settings = Settings(data_dir=tmp_path, secret_key="p" * 32, path_prefix="/api",
                        database_url=f"sqlite:///{tmp_path / 'db.sqlite'}", queue_url=f"sqlite:///{tmp_path / 'q'}",
                        storage_url=f"file://{tmp_path / 'files'}")
    client = TestClient(create_app(settings))
    page = client.get("/api/")
    assert page.status_code == 200 and "openlipsync studio" in page.text
    for ref in re.findall(r'(?:src|href)="(studio/[^"]+)"', page.text):
        assert client.get("/api/" + ref).status_code == 200, ref
