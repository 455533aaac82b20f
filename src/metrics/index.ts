/** Observability of the servers: the per-server Prometheus registry, the metrics of each server, and the admin HTTP listener. */
export { createRegistry, LabelBound } from './registry.js';
export { instrumentAuthServer, HANDOFF_BUCKETS } from './auth.js';
export { instrumentHostServer } from './host.js';
export { instrumentNetcode } from './netcode.js';
export { instrumentResultsSink, type SinkStats } from './results.js';
export { startAdminHttp, parseListen, type AdminHttp, type AdminHttpOptions, type ReadyCheck } from './http.js';
export { METRICS_ERRORS, metricsError, type MetricsErrorCode } from './errors.js';
