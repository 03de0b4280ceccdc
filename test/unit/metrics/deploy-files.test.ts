// Static checks of deploy/prometheus and deploy/grafana. That every query
// actually evaluates and returns data is shown against the real servers in
// test/integration/observability/dashboards-and-rules.test.ts.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import YAML from 'yaml';
import { resolveConfig } from '../../../src/config/load-config.ts';
import { ensureCommand } from '../../harness/install.ts';
import {
  DASHBOARD_DIR,
  dashboardQueries,
  dashboards,
  PROMETHEUS_YML,
  provisionedDatasources,
  REPO,
  RULES_DIR,
  ruleExpressions,
} from '../../integration/observability/queries.ts';

function promtool(...args: string[]): { status: number | null; output: string } {
  // promtool ships in Debian's prometheus package, which the harness installs.
  const prometheus = ensureCommand('prometheus');
  const binary = path.join(path.dirname(prometheus), 'promtool');
  const result = spawnSync(binary, args, { encoding: 'utf8' });
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

describe('deploy/prometheus', () => {
  it('passes promtool check config, rule files included', () => {
    const { status, output } = promtool('check', 'config', PROMETHEUS_YML);
    assert.equal(status, 0, output);
    assert.match(output, /SUCCESS: \d+ rule files found/);
  });

  it('passes promtool check rules for every rule file', () => {
    const files = fs.readdirSync(RULES_DIR).filter((f) => /\.ya?ml$/.test(f));
    assert.ok(files.length > 0);
    const { status, output } = promtool(
      'check',
      'rules',
      ...files.map((f) => path.join(RULES_DIR, f)),
    );
    assert.equal(status, 0, output);
  });

  it('promtool rejects a broken rule (the check can fail)', () => {
    const broken = path.join(REPO, '.tsad', `broken-rules-${process.pid}.yml`);
    fs.mkdirSync(path.dirname(broken), { recursive: true });
    fs.writeFileSync(
      broken,
      'groups:\n  - name: x\n    rules:\n      - alert: X\n        expr: sum(rate(x[5m])\n',
    );
    try {
      assert.notEqual(promtool('check', 'rules', broken).status, 0);
    } finally {
      fs.rmSync(broken, { force: true });
    }
  });

  it('has the alerts the operations guide promises, each with a summary and a severity', () => {
    const rules = ruleExpressions().map((r) => r.name);
    for (const name of [
      'TsadDown',
      'TsadConsumerLagGrowing',
      'TsadNoWindowsScored',
      'TsadAlertRateSpike',
      'TsadRejectsSpike',
      'TsadModelStale',
    ]) {
      assert.ok(rules.includes(name), name);
    }
    for (const file of fs.readdirSync(RULES_DIR)) {
      const doc = YAML.parse(fs.readFileSync(path.join(RULES_DIR, file), 'utf8')) as {
        groups: {
          rules: {
            alert: string;
            labels?: { severity?: string };
            annotations?: { summary?: string };
          }[];
        }[];
      };
      for (const rule of doc.groups.flatMap((g) => g.rules)) {
        assert.match(rule.labels?.severity ?? '', /^(critical|warning|info)$/, rule.alert);
        assert.ok(rule.annotations?.summary, `${rule.alert} has a summary`);
      }
    }
  });
});

describe('deploy/grafana', () => {
  it('provisions a Prometheus and an InfluxDB data source with fixed uids', () => {
    assert.deepEqual([...provisionedDatasources()].sort(), [
      ['tsad-influxdb', 'influxdb'],
      ['tsad-prometheus', 'prometheus'],
    ]);
  });

  it('takes from the environment only variables tsad accepts too (one env file can serve both)', () => {
    const text = fs.readFileSync(
      path.join(REPO, 'deploy/grafana/provisioning/datasources/tsad.yml'),
      'utf8',
    );
    const names = [...text.matchAll(/\$\{(\w+)\}/g)].map((m) => m[1]!);
    assert.ok(names.includes('TSAD_INFLUX_USERNAME'), names.join(', '));
    for (const name of names) {
      // tsad refuses an unknown TSAD_ variable of a known section as a typo.
      const { problems } = resolveConfig({ env: { [name]: 'http://localhost:1' } });
      assert.deepEqual(problems, [], `${name}: ${JSON.stringify(problems)}`);
    }
  });

  it('provisions dashboards from a file provider', () => {
    const doc = YAML.parse(
      fs.readFileSync(path.join(REPO, 'deploy/grafana/provisioning/dashboards/tsad.yml'), 'utf8'),
    ) as { apiVersion: number; providers: { type: string; options: { path: string } }[] };
    assert.equal(doc.apiVersion, 1);
    assert.equal(doc.providers[0]?.type, 'file');
    assert.ok(doc.providers[0]?.options.path);
  });

  it('has the overview and sensor dashboards, with unique uids, panel ids and refIds', () => {
    const all = dashboards();
    assert.deepEqual([...all.keys()].sort(), ['tsad-overview.json', 'tsad-sensor.json']);
    const uids = [...all.values()].map((d) => d.uid);
    assert.equal(new Set(uids).size, uids.length);
    for (const [file, dashboard] of all) {
      const raw = JSON.parse(fs.readFileSync(path.join(DASHBOARD_DIR, file), 'utf8')) as {
        panels: { id: number; gridPos: object; targets: { refId: string }[] }[];
        schemaVersion: number;
      };
      assert.ok(raw.schemaVersion >= 36, `${file} schemaVersion`);
      const ids = raw.panels.map((p) => p.id);
      assert.equal(new Set(ids).size, ids.length, `${file} panel ids unique`);
      for (const panel of raw.panels) {
        assert.ok(panel.gridPos, `${file} panel ${panel.id} has a gridPos`);
        const refs = panel.targets.map((t) => t.refId);
        assert.equal(new Set(refs).size, refs.length, `${file} panel ${panel.id} refIds unique`);
      }
      assert.ok(dashboard.title.startsWith('tsad'));
    }
  });

  it('shows label values as text and gives a second quantity its own unit and axis', () => {
    const raw = JSON.parse(
      fs.readFileSync(path.join(DASHBOARD_DIR, 'tsad-overview.json'), 'utf8'),
    ) as {
      panels: {
        title: string;
        type: string;
        targets: { refId: string; expr: string; legendFormat?: string }[];
        options?: { textMode?: string };
        fieldConfig: {
          defaults: { unit?: string };
          overrides: {
            matcher: { id: string; options: string };
            properties: { id: string; value: unknown }[];
          }[];
        };
      }[];
    };
    // An info metric's value is always 1: a stat panel must show its label (the legend), not 1.
    const infoStats = raw.panels.filter(
      (p) => p.type === 'stat' && p.targets.some((t) => /_info\b/.test(t.expr)),
    );
    assert.ok(infoStats.length > 0);
    for (const panel of infoStats) assert.equal(panel.options?.textMode, 'name', panel.title);
    const unitsOf = (title: string) => {
      const panel = raw.panels.find((p) => p.title === title);
      assert.ok(panel, title);
      const byRef = new Map(
        panel.fieldConfig.overrides
          .filter((o) => o.matcher.id === 'byFrameRefID')
          .map((o) => [o.matcher.options, o.properties.find((q) => q.id === 'unit')?.value]),
      );
      return panel.targets.map((t) => byRef.get(t.refId) ?? panel.fieldConfig.defaults.unit);
    };
    // CPU cores beside resident bytes; a count of runs beside a duration.
    assert.deepEqual(unitsOf('Process CPU and memory'), ['short', 'bytes']);
    assert.deepEqual(unitsOf('Training duration'), ['s', 'short']);
  });

  it('every query names a provisioned data source of the right kind', () => {
    // dashboardQueries throws on a panel whose data source is not provisioned.
    const queries = dashboardQueries();
    const overview = queries.filter((q) => q.dashboard === 'tsad-overview.json');
    const sensor = queries.filter((q) => q.dashboard === 'tsad-sensor.json');
    assert.ok(overview.length > 0 && overview.every((q) => q.language === 'promql'));
    assert.ok(sensor.length > 0 && sensor.every((q) => q.language === 'influxql'));
  });

  it('the sensor view has a sensor variable from SHOW TAG VALUES and alert annotations from tsad_alert', () => {
    const sensor = dashboards().get('tsad-sensor.json');
    const variable = sensor?.templating?.list?.find((v) => v.name === 'sensor');
    assert.match(
      String(variable?.query),
      /^SHOW TAG VALUES FROM "tsad_window" WITH KEY = "sensor"$/,
    );
    const annotation = sensor?.annotations?.list?.[0];
    assert.match(
      String(annotation?.query),
      /FROM "tsad_alert" WHERE "sensor" =~ \/\^\$sensor\$\/ AND \$timeFilter/,
    );
    const queries = dashboardQueries().filter((q) => q.dashboard === 'tsad-sensor.json');
    for (const measurement of ['tsad_reading', 'tsad_window', 'tsad_alert']) {
      assert.ok(
        queries.some((q) => q.query.includes(`"${measurement}"`)),
        measurement,
      );
    }
  });

  it('the overview covers throughput, lag, latency, rejects, alerts, model age and training runs', () => {
    const text = dashboardQueries()
      .filter((q) => q.dashboard === 'tsad-overview.json')
      .map((q) => q.query)
      .join('\n');
    for (const metric of [
      'tsad_messages_consumed_total',
      'tsad_windows_scored_total',
      'tsad_consumer_lag_messages',
      'tsad_scoring_duration_seconds_bucket',
      'tsad_end_to_end_latency_seconds_bucket',
      'tsad_messages_rejected_total',
      'tsad_alerts_total',
      'tsad_model_age_seconds',
      'tsad_training_runs_total',
    ]) {
      assert.ok(text.includes(metric), metric);
    }
  });
});
