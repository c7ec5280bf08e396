# Stand-in for the nats image where Docker Hub cannot be reached: Debian's
# nats-server (2.9, which headroom.conf is written for) and the wget that
# docker-compose.yml's healthcheck uses. Not tagged as nats:*, because it is
# not that image: compose takes it from HEADROOM_NATS_IMAGE.
ARG DEBIAN_IMAGE=debian:bookworm-slim
FROM ${DEBIAN_IMAGE}
RUN apt-get update \
 && apt-get install -y --no-install-recommends nats-server wget \
 && rm -rf /var/lib/apt/lists/*
EXPOSE 4222 8222
ENTRYPOINT ["nats-server"]
