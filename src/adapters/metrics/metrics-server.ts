/**
 * The daemon's HTTP endpoint for operators and orchestrators: `/metrics` for
 * Prometheus, `/healthz` (the process answers) and `/readyz` (it can do its
 * job: Kafka connected and acknowledging sends, a model loaded). Plain
 * node:http, because three routes do not need a framework.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import { errorMessage, TsadError } from '../../errors.ts';

/** What the daemon knows about its own readiness, read at each /readyz request. */
export interface HealthReport {
  /** Kafka consumer connected; 'not_configured' in the embedded mode (no Kafka at all). */
  kafkaConnected: boolean | 'not_configured';
  /** An alert or dead-letter send has waited `kafka.sendStalledAfterMs` or longer for the brokers. */
  kafkaSendsStalled: boolean;
  modelLoaded: boolean;
}

export interface MetricsServerOptions {
  /** Interface to bind, e.g. '127.0.0.1' or '0.0.0.0'. */
  host: string;
  /** Port to bind; 0 asks the kernel for a free one (see `start()`'s result). */
  port: number;
  registry: Registry;
  health: () => HealthReport;
}

export interface MetricsServer {
  /** Binds the port; resolves with the bound address. Idempotent; concurrent calls share one promise. */
  start(): Promise<{ host: string; port: number }>;
  /** Closes the server and its open connections. Idempotent; concurrent calls share one promise. */
  stop(): Promise<void>;
  /** The bound address once started, else undefined. */
  address(): { host: string; port: number } | undefined;
}

/** The JSON body of /readyz: ready, and the state of each check. */
export interface ReadinessBody {
  ready: boolean;
  checks: {
    kafka: 'connected' | 'disconnected' | 'not_configured';
    kafkaSends: 'ok' | 'stalled';
    model: 'loaded' | 'missing';
  };
}

/** Turns a HealthReport into the /readyz verdict; ready only when every check passes. */
export function readiness(report: HealthReport): ReadinessBody {
  const kafka =
    report.kafkaConnected === 'not_configured'
      ? 'not_configured'
      : report.kafkaConnected
        ? 'connected'
        : 'disconnected';
  const kafkaSends = report.kafkaSendsStalled ? 'stalled' : 'ok';
  const model = report.modelLoaded ? 'loaded' : 'missing';
  return {
    ready: kafka !== 'disconnected' && kafkaSends === 'ok' && model === 'loaded',
    checks: { kafka, kafkaSends, model },
  };
}

/**
 * Creates the metrics HTTP server (not yet listening). start() and stop() are
 * idempotent and share a promise between concurrent callers, so the teardown
 * stack and a signal handler can both call stop(). Errors in a health probe
 * or in metric collection answer 500 and never crash the process.
 */
export function createMetricsServer(options: MetricsServerOptions): MetricsServer {
  const server = http.createServer((request, response) => {
    handle(request, response, options).catch((error: unknown) => {
      if (!response.headersSent) response.writeHead(500, { 'content-type': 'text/plain' });
      response.end(`internal error: ${errorMessage(error)}\n`);
    });
  });
  // A stuck scraper must not hold the daemon's shutdown.
  server.keepAliveTimeout = 5_000;
  let bound: { host: string; port: number } | undefined;
  let starting: Promise<{ host: string; port: number }> | undefined;
  let stopping: Promise<void> | undefined;

  return {
    start() {
      if (stopping) {
        return Promise.reject(new TsadError('TSAD_ERR_INTERNAL', 'metrics server already stopped'));
      }
      starting ??= new Promise((resolve, reject) => {
        const onError = (error: Error) =>
          reject(
            new TsadError(
              'TSAD_ERR_SERVICE_START',
              `metrics server cannot listen on ${options.host}:${options.port}: ${error.message}`,
              { cause: error, retriable: false },
            ),
          );
        server.once('error', onError);
        server.listen(options.port, options.host, () => {
          server.off('error', onError);
          const address = server.address() as AddressInfo;
          bound = { host: address.address, port: address.port };
          resolve(bound);
        });
      });
      return starting;
    },
    stop() {
      stopping ??= (async () => {
        if (starting) await starting.catch(() => undefined);
        if (!server.listening) return;
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeAllConnections();
        });
        bound = undefined;
      })();
      return stopping;
    },
    address: () => bound,
  };
}

async function handle(
  request: http.IncomingMessage,
  response: http.ServerResponse,
  options: MetricsServerOptions,
): Promise<void> {
  const path = (request.url ?? '/').split('?')[0];
  if (request.method !== 'GET' && request.method !== 'HEAD') {
    response.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' });
    response.end('method not allowed\n');
    return;
  }
  if (path === '/metrics') {
    const body = await options.registry.metrics();
    response.writeHead(200, { 'content-type': options.registry.contentType });
    response.end(body);
  } else if (path === '/healthz') {
    json(response, 200, { status: 'ok' });
  } else if (path === '/readyz') {
    const body = readiness(options.health());
    json(response, body.ready ? 200 : 503, body);
  } else {
    response.writeHead(404, { 'content-type': 'text/plain' });
    response.end('not found: try /metrics, /healthz or /readyz\n');
  }
}

function json(response: http.ServerResponse, status: number, body: unknown): void {
  response.writeHead(status, { 'content-type': 'application/json' });
  response.end(`${JSON.stringify(body)}\n`);
}
