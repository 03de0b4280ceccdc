import assert from 'node:assert/strict';
import fs from 'node:fs';
import { describe, it } from 'node:test';
import { createMetrics } from '../../../src/adapters/metrics/create-metrics.ts';

const DOC = new URL('../../../docs/metrics.md', import.meta.url);

interface Row {
  type: string;
  labels: string[];
}

/** The rows of the tsad table: | `name` | type | `a`, `b` or — | meaning |. */
function documented(): Map<string, Row> {
  const rows = new Map<string, Row>();
  for (const line of fs.readFileSync(DOC, 'utf8').split('\n')) {
    // Cells may be padded (a markdown formatter aligns the columns).
    const match = /^\|\s*`(tsad_[a-z0-9_]+)`\s*\|\s*(\w+)\s*\|([^|]+)\|/.exec(line);
    if (!match) continue;
    const labels = [...(match[3] ?? '').matchAll(/`([a-z_]+)`/g)].map((m) => m[1]!).sort();
    rows.set(match[1]!, { type: match[2]!, labels });
  }
  return rows;
}

async function registered(): Promise<Map<string, Row>> {
  const metrics = createMetrics({ topSensors: 1, defaultMetrics: false });
  const found = new Map<string, Row>();
  for (const { name } of await metrics.registry.getMetricsAsJSON()) {
    const metric = metrics.registry.getSingleMetric(name);
    // prom-client keeps the declared label names on the metric, though its type leaves them out.
    const labels = [...((metric as unknown as { labelNames?: string[] }).labelNames ?? [])].sort();
    const data = await metric!.get();
    found.set(name, { type: String(data.type), labels });
  }
  return found;
}

describe('docs/metrics.md', () => {
  it('lists every tsad metric of the registry with its type and labels, and nothing else', async () => {
    const doc = documented();
    const code = await registered();
    assert.ok(code.size >= 20);
    assert.deepEqual([...doc.keys()].sort(), [...code.keys()].sort());
    for (const [name, row] of code) assert.deepEqual(doc.get(name), row, name);
  });

  it('names every value of the bounded labels (reasons, states, outcomes, kinds) in the row', async () => {
    const text = fs.readFileSync(DOC, 'utf8').split('\n');
    const metrics = createMetrics({ topSensors: 0, defaultMetrics: false });
    for (const metric of await metrics.registry.getMetricsAsJSON()) {
      const row = text.find((line) => new RegExp(`^\\|\\s*\`${metric.name}\``).test(line)) ?? '';
      for (const value of metric.values) {
        for (const [label, labelValue] of Object.entries(value.labels)) {
          if (!['reason', 'state', 'outcome', 'kind'].includes(label)) continue;
          assert.ok(
            row.includes(`\`${labelValue}\``),
            `${metric.name}: ${label}="${labelValue}" documented`,
          );
        }
      }
    }
  });

  it('covers the default process metrics by their prefixes', async () => {
    const text = fs.readFileSync(DOC, 'utf8');
    const metrics = createMetrics({ topSensors: 0 });
    const others = metrics.registry
      .getMetricsAsArray()
      .map((m) => (m as unknown as { name: string }).name)
      .filter((name) => !name.startsWith('tsad_'));
    assert.ok(others.length > 0);
    for (const name of others) {
      const prefix = /^(process|nodejs)_/.exec(name)?.[0];
      assert.ok(prefix, `${name} is neither tsad_, process_ nor nodejs_`);
      assert.ok(text.includes(`\`${prefix}*\``), `docs/metrics.md mentions ${prefix}*`);
    }
  });
});
