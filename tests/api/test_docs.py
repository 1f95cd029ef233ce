"""The interactive docs work offline: Swagger UI is served by the app itself, never from a CDN."""

import re

from fastapi.testclient import TestClient


def test_docs_page_loads_swagger_ui_from_this_server(client: TestClient) -> None:
    page = client.get("/docs")
    assert page.status_code == 200
    urls = re.findall(r"""(?:src|href)=['"]([^'"]+)['"]""", page.text)
    scripts = [u for u in urls if u.endswith(".js") or u.endswith(".css")]
    assert scripts and all(u.startswith("/docs-assets/") for u in scripts), scripts
    for url in scripts:
        asset = client.get(url)
        assert asset.status_code == 200 and len(asset.content) > 1000


def test_docs_assets_are_an_allow_list(client: TestClient) -> None:
    assert client.get("/docs-assets/index.html").status_code == 404
    assert client.get("/docs-assets/..%2F..%2F__init__.py").status_code == 404
