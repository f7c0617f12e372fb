# The real Toxiproxy server as an image, built offline from a static toxiproxy-server binary
# (no registry, no base image): the tests' way to run the compose cluster on the real server.
#
#   mkdir ctx && cp /path/to/toxiproxy-server ctx/ \
#     && docker build -f nodes/docker/toxiproxy-real.Dockerfile -t chaoslab/toxiproxy-real:local ctx
#   TOXIPROXY_IMAGE=chaoslab/toxiproxy-real:local docker-compose -p chaoslab up -d
#
# Users keep Shopify's image (ghcr.io/shopify/toxiproxy) as the default; this file only needs a
# statically linked binary (Go, no cgo), such as the one CI keeps in ../shared/bin.
FROM scratch
COPY toxiproxy-server /toxiproxy-server
USER 10001:10001
EXPOSE 8474
ENTRYPOINT ["/toxiproxy-server"]
CMD ["-host=0.0.0.0"]
