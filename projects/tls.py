"""The TLS context of the HTTP clients made per call (a provider's, a gateway check's),
made once: httpx builds a new one for every client by default, and loading the CA bundle
costs about 25 ms of CPU, more than a request to a nearby service. The same as httpx's
default (certifi's bundle, or SSL_CERT_FILE or SSL_CERT_DIR when set); an SSLContext may
be shared by any number of clients and threads."""

import functools

import httpx


@functools.cache
def context():
    return httpx.create_ssl_context()
