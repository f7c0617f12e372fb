"""Optional mutual TLS on the peer links: members with certificates from the cluster's CA
elect a leader and replicate; a caller without such a certificate cannot even connect."""

from __future__ import annotations

import datetime
import random
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from experiments.cluster import processes
from experiments.cluster.layout import find_base
from experiments.cluster.testing import wait_for
from nodes.client import Client
from nodes.rpc import chaoslab_pb2 as pb
from nodes.rpc import chaoslab_pb2_grpc as pb_grpc

SERVER_NAME = "chaoslab-peer"


def make_pki(directory: Path) -> dict[str, Path]:
    """A CA and one certificate (SAN chaoslab-peer, client and server use) signed by it."""
    crypto = pytest.importorskip("cryptography", reason="needs the cryptography package")
    del crypto
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "chaoslab test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, SERVER_NAME)]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(SERVER_NAME)]), critical=False)
        .add_extension(
            x509.ExtendedKeyUsage(
                [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
            ),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    paths = {name: directory / f"{name}.pem" for name in ("ca", "cert", "key")}
    paths["ca"].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths["cert"].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths["key"].write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return paths


@pytest.fixture(scope="module", name="tls_cluster")
def fixture_tls_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[int, str]]:
    """Three nodes with mutual TLS on the peer links; yields node id → peer listener."""
    directory = tmp_path_factory.mktemp("tls")
    pki = make_pki(directory)
    secret = directory / "peer.secret"
    secret.write_text("0123456789abcdef0123456789abcdef\n")
    secret.chmod(0o600)
    base = find_base(3, with_proxy=False, start=random.Random().randrange(40_000, 59_000, 10))
    clients = {i: f"127.0.0.1:{base + i}" for i in (1, 2, 3)}
    peers = {i: f"127.0.0.1:{base + 100 + i}" for i in (1, 2, 3)}
    started: list[tuple[int, list[str]]] = []
    for i in (1, 2, 3):
        argv = processes.chaoslab_argv(
            "--log-format", "json", "node", "--id", str(i),
            "--listen", clients[i], "--peer-listen", peers[i],
            "--peers", ",".join(f"{j}={peers[j]}" for j in (1, 2, 3) if j != i),
            "--client-addresses", ",".join(f"{j}={clients[j]}" for j in (1, 2, 3)),
            "--cluster-id", "tls-test", "--peer-secret-file", str(secret),
            "--peer-tls-cert", str(pki["cert"]), "--peer-tls-key", str(pki["key"]),
            "--peer-tls-ca", str(pki["ca"]),
            "--data-dir", str(directory / f"n{i}"),
        )  # fmt: skip
        started.append((processes.spawn(argv, directory / f"n{i}.log"), argv))
    try:
        yield {i: clients[i] for i in clients} | {10 + i: peers[i] for i in peers}
    finally:
        for pid, argv in started:
            processes.terminate(pid, argv)


class TestMutualTls:
    """--peer-tls-cert/--peer-tls-key/--peer-tls-ca."""

    def test_members_elect_and_replicate(self, tls_cluster: dict[int, str]) -> None:
        """The TLS members elect one leader and acknowledge a write."""
        clients = [tls_cluster[i] for i in (1, 2, 3)]
        with Client(clients, timeout_s=10.0, attempt_timeout_s=2.0, seed=1) as client:

            def leader() -> int | None:
                views = [client.status(a).value for a in clients]
                leaders = {v.leader_id for v in views if v is not None}
                return leaders.pop() if len(leaders) == 1 and 0 not in leaders else None

            wait_for(leader, what="a leader over TLS peer links", timeout_s=30)
            outcome = client.put("tls", "yes")

        assert "ok" == outcome.status

    def test_plaintext_caller_cannot_connect(self, tls_cluster: dict[int, str]) -> None:
        """A caller without TLS (let alone a certificate) gets UNAVAILABLE from a peer listener."""
        channel = grpc.insecure_channel(tls_cluster[11])
        with channel, pytest.raises(grpc.RpcError) as caught:
            pb_grpc.PeerStub(channel).Deliver(pb.MessageBatch(), timeout=3)

        assert grpc.StatusCode.UNAVAILABLE == caught.value.code()
