import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createMetrics } from '../../../src/adapters/metrics/create-metrics.ts';
import {
  createMetricsServer,
  type HealthReport,
  readiness,
} from '../../../src/adapters/metrics/metrics-server.ts';
import { isTsadError } from '../../../src/errors.ts';

function setup(
  health: HealthReport = { kafkaConnected: true, kafkaSendsStalled: false, modelLoaded: true },
) {
  const metrics = createMetrics({ topSensors: 0, defaultMetrics: false });
  const state = { ...health };
  const server = createMetricsServer({
    host: '127.0.0.1',
    port: 0,
    registry: metrics.registry,
    health: () => state,
  });
  return { metrics, server, state };
}

describe('createMetricsServer', () => {
  it('binds port 0 to a free port and reports it', async () => {
    const { server } = setup();
    assert.equal(server.address(), undefined);
    const address = await server.start();
    try {
      assert.equal(address.host, '127.0.0.1');
      assert.ok(address.port > 0);
      assert.deepEqual(server.address(), address);
    } finally {
      await server.stop();
    }
  });

  it('serves the registry in the Prometheus text format on /metrics', async () => {
    const { metrics, server } = setup();
    const { port } = await server.start();
    try {
      metrics.messageConsumed('readings');
      const response = await fetch(`http://127.0.0.1:${port}/metrics`);
      assert.equal(response.status, 200);
      assert.match(response.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
      const body = await response.text();
      assert.match(body, /^tsad_messages_consumed_total\{topic="readings"\} 1$/m);
      assert.match(body, /^# TYPE tsad_scoring_duration_seconds histogram$/m);
    } finally {
      await server.stop();
    }
  });

  it('answers /healthz with 200 whatever the readiness', async () => {
    const { server } = setup({
      kafkaConnected: false,
      kafkaSendsStalled: false,
      modelLoaded: false,
    });
    const { port } = await server.start();
    try {
      const response = await fetch(`http://127.0.0.1:${port}/healthz`);
      assert.equal(response.status, 200);
      assert.deepEqual(await response.json(), { status: 'ok' });
    } finally {
      await server.stop();
    }
  });

  it('answers /readyz 200 only with Kafka connected (or not configured), no send stalled and a model loaded', async () => {
    const { server, state } = setup({
      kafkaConnected: false,
      kafkaSendsStalled: false,
      modelLoaded: false,
    });
    const { port } = await server.start();
    const ready = async () => {
      const response = await fetch(`http://127.0.0.1:${port}/readyz`);
      return { status: response.status, body: await response.json() };
    };
    try {
      assert.deepEqual(await ready(), {
        status: 503,
        body: {
          ready: false,
          checks: { kafka: 'disconnected', kafkaSends: 'ok', model: 'missing' },
        },
      });
      state.modelLoaded = true;
      assert.deepEqual(await ready(), {
        status: 503,
        body: {
          ready: false,
          checks: { kafka: 'disconnected', kafkaSends: 'ok', model: 'loaded' },
        },
      });
      state.kafkaConnected = true;
      assert.deepEqual(await ready(), {
        status: 200,
        body: { ready: true, checks: { kafka: 'connected', kafkaSends: 'ok', model: 'loaded' } },
      });
      state.kafkaSendsStalled = true;
      assert.deepEqual(await ready(), {
        status: 503,
        body: {
          ready: false,
          checks: { kafka: 'connected', kafkaSends: 'stalled', model: 'loaded' },
        },
      });
      state.kafkaSendsStalled = false;
      state.kafkaConnected = 'not_configured';
      assert.deepEqual(await ready(), {
        status: 200,
        body: {
          ready: true,
          checks: { kafka: 'not_configured', kafkaSends: 'ok', model: 'loaded' },
        },
      });
      state.modelLoaded = false;
      assert.equal((await ready()).status, 503);
    } finally {
      await server.stop();
    }
  });

  it('answers 500 when the health probe throws, and keeps serving', async () => {
    const metrics = createMetrics({ topSensors: 0, defaultMetrics: false });
    const server = createMetricsServer({
      host: '127.0.0.1',
      port: 0,
      registry: metrics.registry,
      health: () => {
        throw new Error('probe broke');
      },
    });
    const { port } = await server.start();
    try {
      const response = await fetch(`http://127.0.0.1:${port}/readyz`);
      assert.equal(response.status, 500);
      assert.match(await response.text(), /probe broke/);
      assert.equal((await fetch(`http://127.0.0.1:${port}/healthz`)).status, 200);
    } finally {
      await server.stop();
    }
  });

  it('answers 404 on other paths and 405 on other methods', async () => {
    const { server } = setup();
    const { port } = await server.start();
    try {
      assert.equal((await fetch(`http://127.0.0.1:${port}/nope`)).status, 404);
      assert.equal(
        (await fetch(`http://127.0.0.1:${port}/metrics`, { method: 'POST' })).status,
        405,
      );
    } finally {
      await server.stop();
    }
  });

  it('shares one start between concurrent callers and is idempotent', async () => {
    const { server } = setup();
    const [a, b] = await Promise.all([server.start(), server.start()]);
    try {
      assert.deepEqual(a, b);
      assert.deepEqual(await server.start(), a);
    } finally {
      await server.stop();
    }
  });

  it('stops idempotently, closing the port and keep-alive connections', async () => {
    const { server } = setup();
    const { port } = await server.start();
    // A keep-alive connection must not hold stop().
    await (await fetch(`http://127.0.0.1:${port}/healthz`)).text();
    await Promise.all([server.stop(), server.stop()]);
    await server.stop();
    assert.equal(server.address(), undefined);
    await assert.rejects(fetch(`http://127.0.0.1:${port}/healthz`));
  });

  it('can be stopped before it was started', async () => {
    const { server } = setup();
    await server.stop();
    await assert.rejects(server.start(), (error) => isTsadError(error, 'TSAD_ERR_INTERNAL'));
  });

  it('refuses a start after stop with a clear error, and the observer keeps working', async () => {
    const { server, metrics } = setup();
    await server.start();
    await server.stop();
    await assert.rejects(server.start(), /already stopped/);
    assert.doesNotThrow(() => metrics.messageConsumed('late'));
  });

  it('fails start with TSAD_ERR_SERVICE_START when the port is taken', async () => {
    const first = setup();
    const { port } = await first.server.start();
    try {
      const metrics = createMetrics({ topSensors: 0, defaultMetrics: false });
      const second = createMetricsServer({
        host: '127.0.0.1',
        port,
        registry: metrics.registry,
        health: () => ({ kafkaConnected: true, kafkaSendsStalled: false, modelLoaded: true }),
      });
      await assert.rejects(second.start(), (error) => isTsadError(error, 'TSAD_ERR_SERVICE_START'));
      await second.stop();
    } finally {
      await first.server.stop();
    }
  });
});

describe('readiness', () => {
  it('is ready only when every check passes', () => {
    assert.equal(
      readiness({ kafkaConnected: true, kafkaSendsStalled: false, modelLoaded: true }).ready,
      true,
    );
    assert.equal(
      readiness({ kafkaConnected: 'not_configured', kafkaSendsStalled: false, modelLoaded: true })
        .ready,
      true,
    );
    assert.equal(
      readiness({ kafkaConnected: false, kafkaSendsStalled: false, modelLoaded: true }).ready,
      false,
    );
    assert.equal(
      readiness({ kafkaConnected: true, kafkaSendsStalled: false, modelLoaded: false }).ready,
      false,
    );
    assert.equal(
      readiness({ kafkaConnected: true, kafkaSendsStalled: true, modelLoaded: true }).ready,
      false,
    );
  });
});
