# syntax=docker/dockerfile:1
# pgsteward: build, then a slim runtime with the PostgreSQL client tools (and a server for embedded mode).
ARG NODE_VERSION=24

FROM node:${NODE_VERSION}-trixie-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY scripts/build-if-stale.mjs ./scripts/
COPY src ./src
RUN npm run build && npm prune --omit=dev

FROM node:${NODE_VERSION}-trixie-slim AS runtime
# pg_dump must be at least as new as the servers it dumps: pgsteward picks the newest suitable major it
# finds under /usr/lib/postgresql/<major>/bin. Debian trixie ships PostgreSQL 17; add newer majors here
# (for example from the PostgreSQL project's apt repository) to back up newer servers.
ARG PG_MAJOR=17
RUN apt-get update \
  && apt-get install -y --no-install-recommends ca-certificates openssl \
     postgresql-client-${PG_MAJOR} postgresql-${PG_MAJOR} \
  && rm -rf /var/lib/apt/lists/*
WORKDIR /app
ENV HOST=0.0.0.0 \
    PORT=8080 \
    PGSTEWARD_DATA_DIR=/var/lib/pgsteward
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
COPY migrations ./migrations
COPY openapi ./openapi
COPY schema ./schema
RUN install -d -o node -g node -m 0700 /var/lib/pgsteward
USER node
VOLUME ["/var/lib/pgsteward"]
EXPOSE 8080
HEALTHCHECK --interval=15s --timeout=3s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||8080)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
CMD ["node", "dist/src/server.js"]
