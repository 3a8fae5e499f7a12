"""Media on S3-compatible storage (a moto S3 server on 127.0.0.1 stands in for AWS or MinIO)."""

import io

import boto3
import pytest
from moto.server import ThreadedMotoServer
from PIL import Image

from tests.fixtures.factories import make_user
from tests.fixtures.live import free_port
from tests.media.test_media_api import upload_and_scan

pytestmark = pytest.mark.django_db

BUCKET = "conversa-media"


@pytest.fixture(scope="module")
def s3_endpoint():
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    client = boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id="test",
        aws_secret_access_key="test",
        region_name="us-east-1",
    )
    client.create_bucket(Bucket=BUCKET)
    yield endpoint, client
    server.stop()


@pytest.fixture
def s3_storage(s3_endpoint, settings):
    endpoint, client = s3_endpoint
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {
                "bucket_name": BUCKET,
                "endpoint_url": endpoint,
                "region_name": "us-east-1",
                "access_key": "test",
                "secret_key": "test",
                "default_acl": "private",
                "file_overwrite": False,
            },
        },
    }
    return client


def test_uploads_live_under_the_company_prefix_in_the_bucket_and_are_served(
    api,
    alpha,
    s3_storage,
    clamd_settings,
    django_capture_on_commit_callbacks,
):
    admin = make_user(alpha, role="admin")
    client = api(alpha, token=api(alpha).login(admin.email)["access"])
    buffer = io.BytesIO()
    Image.new("RGB", (400, 300), (10, 200, 30)).save(buffer, "PNG")

    response = upload_and_scan(
        client, django_capture_on_commit_callbacks, "chart.png", buffer.getvalue(), "image/png"
    )

    assert response.status_code == 201, response.content
    media = client.get(f"/api/v1/media/{response.json()['id']}").json()
    assert media["status"] == "clean"
    keys = [item["Key"] for item in s3_storage.list_objects_v2(Bucket=BUCKET)["Contents"]]
    mine = [key for key in keys if key.startswith(f"tenants/{alpha.schema_name}/media/")]
    assert any(key.endswith("/image") for key in mine) and any(key.endswith("/thumbnail") for key in mine)
    download = client.get(f"/api/v1/media/{media['id']}/download")
    assert download.status_code == 200
    assert Image.open(io.BytesIO(b"".join(download.streaming_content))).size == (400, 300)
