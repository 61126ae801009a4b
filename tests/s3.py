"""A real S3 endpoint for tests: moto's server over loopback, and media storage pointed at it.

Storage is switched the documented way: by overriding settings.STORAGES (and the AWS_*
values django-storages reads when it builds the backend). Django's own `setting_changed`
receiver for STORAGES then empties the storage cache and `default_storage`'s wrapped
object, and model FileFields hold `default_storage` itself, so every field follows.
STORAGES is set last so that the backend, built lazily, sees the AWS_* values beside it.
"""

import socket
import uuid
from dataclasses import dataclass

import boto3
from botocore.config import Config
from moto.server import ThreadedMotoServer

REGION = "us-east-1"
KEYS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
S3_BACKEND = "storages.backends.s3.S3Storage"


class MotoServer:
    """moto's S3 on a free loopback port, reachable by this process and any other."""

    def __init__(self):
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)

    def __enter__(self):
        self._server.start()
        host, port = self._server.get_host_and_port()
        self.url = f"http://{host}:{port}"
        return self

    def __exit__(self, *exc):
        self._server.stop()

    def client(self):
        return boto3.client(
            "s3",
            endpoint_url=self.url,
            region_name=REGION,
            aws_access_key_id=KEYS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=KEYS["AWS_SECRET_ACCESS_KEY"],
        )


@dataclass
class Bucket:
    name: str
    endpoint_url: str
    client: object

    @property
    def env(self):
        """The environment that points another process (`manage.py qcluster`) at it."""
        return {
            "MEDIA_STORAGE": "s3",
            "AWS_STORAGE_BUCKET_NAME": self.name,
            "AWS_S3_ENDPOINT_URL": self.endpoint_url,
            "AWS_S3_REGION_NAME": REGION,
            **KEYS,
        }

    def read(self, name):
        return self.client.get_object(Bucket=self.name, Key=name)["Body"].read()


def use_s3(settings, endpoint_url, bucket):
    """Point media storage at `bucket` behind `endpoint_url`, as MEDIA_STORAGE=s3 would.

    Timeouts are short and there are no retries, so an endpoint that is down fails fast.
    """
    settings.AWS_STORAGE_BUCKET_NAME = bucket
    settings.AWS_S3_ENDPOINT_URL = endpoint_url
    settings.AWS_S3_REGION_NAME = REGION
    settings.AWS_ACCESS_KEY_ID = KEYS["AWS_ACCESS_KEY_ID"]
    settings.AWS_SECRET_ACCESS_KEY = KEYS["AWS_SECRET_ACCESS_KEY"]
    settings.AWS_S3_CLIENT_CONFIG = Config(
        signature_version="s3v4",
        connect_timeout=1,
        read_timeout=5,
        retries={"mode": "standard", "max_attempts": 1},
    )
    settings.STORAGES = {**settings.STORAGES, "default": {"BACKEND": S3_BACKEND}}


def new_bucket(server):
    bucket = Bucket(f"media-{uuid.uuid4().hex[:12]}", server.url, server.client())
    bucket.client.create_bucket(Bucket=bucket.name)
    return bucket


def empty_and_remove(bucket):
    listed = bucket.client.list_objects_v2(Bucket=bucket.name).get("Contents", [])
    for item in listed:
        bucket.client.delete_object(Bucket=bucket.name, Key=item["Key"])
    bucket.client.delete_bucket(Bucket=bucket.name)


def closed_port():
    """A loopback port nothing listens on (it was free a moment ago)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
