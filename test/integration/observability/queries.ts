// Every query of the Grafana dashboards and every expression of the
// Prometheus alerting rules, read from the deploy/ files themselves, so a new
// panel or rule is checked without touching the tests.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import YAML from 'yaml';

export const REPO = fileURLToPath(new URL('../../../', import.meta.url));
export const DASHBOARD_DIR = path.join(REPO, 'deploy/grafana/dashboards');
export const RULES_DIR = path.join(REPO, 'deploy/prometheus/rules');
export const PROMETHEUS_YML = path.join(REPO, 'deploy/prometheus/prometheus.yml');
export const DATASOURCES_YML = path.join(REPO, 'deploy/grafana/provisioning/datasources/tsad.yml');

export type QueryLanguage = 'promql' | 'influxql';

/** One query found in a dashboard: a panel target, a template variable or an annotation. */
export interface DashboardQuery {
  dashboard: string;
  /** Where it is, for failure messages: `panel "Throughput" A`, `variable sensor`. */
  where: string;
  language: QueryLanguage;
  query: string;
}

interface DatasourceRef {
  type?: string;
  uid?: string;
}

interface Panel {
  title?: string;
  datasource?: DatasourceRef;
  targets?: { refId?: string; expr?: string; query?: string; datasource?: DatasourceRef }[];
  panels?: Panel[];
}

interface Dashboard {
  uid: string;
  title: string;
  panels?: Panel[];
  templating?: {
    list?: { name: string; type: string; query?: unknown; datasource?: DatasourceRef }[];
  };
  annotations?: { list?: { name: string; query?: string; datasource?: DatasourceRef }[] };
}

/** The provisioned data sources: uid → type. */
export function provisionedDatasources(): Map<string, string> {
  const doc = YAML.parse(fs.readFileSync(DATASOURCES_YML, 'utf8')) as {
    datasources: { uid: string; type: string }[];
  };
  return new Map(doc.datasources.map((d) => [d.uid, d.type]));
}

/** The dashboards' JSON files, parsed, by file name. */
export function dashboards(): Map<string, Dashboard> {
  const files = fs.readdirSync(DASHBOARD_DIR).filter((f) => f.endsWith('.json'));
  return new Map(
    files.map((f) => [
      f,
      JSON.parse(fs.readFileSync(path.join(DASHBOARD_DIR, f), 'utf8')) as Dashboard,
    ]),
  );
}

function languageOf(
  ref: DatasourceRef | undefined,
  datasources: Map<string, string>,
  where: string,
): QueryLanguage {
  const type = ref?.uid === undefined ? undefined : datasources.get(ref.uid);
  if (type === 'prometheus') return 'promql';
  if (type === 'influxdb') return 'influxql';
  throw new Error(
    `${where}: data source ${JSON.stringify(ref)} is not a provisioned Prometheus or InfluxDB`,
  );
}

function flatten(panels: Panel[] = []): Panel[] {
  return panels.flatMap((p) => [p, ...flatten(p.panels)]);
}

/** Every query of every dashboard, with its language from the panel's or target's data source. */
export function dashboardQueries(): DashboardQuery[] {
  const datasources = provisionedDatasources();
  const found: DashboardQuery[] = [];
  for (const [file, dashboard] of dashboards()) {
    for (const panel of flatten(dashboard.panels)) {
      for (const target of panel.targets ?? []) {
        const where = `${file} panel "${panel.title}" ${target.refId}`;
        const language = languageOf(target.datasource ?? panel.datasource, datasources, where);
        const query = language === 'promql' ? target.expr : target.query;
        if (typeof query !== 'string' || query.trim() === '') throw new Error(`${where}: no query`);
        found.push({ dashboard: file, where, language, query });
      }
    }
    for (const variable of dashboard.templating?.list ?? []) {
      if (variable.type !== 'query') continue;
      const where = `${file} variable ${variable.name}`;
      const query =
        typeof variable.query === 'string'
          ? variable.query
          : (variable.query as { query?: string })?.query;
      if (typeof query !== 'string') throw new Error(`${where}: no query`);
      found.push({
        dashboard: file,
        where,
        language: languageOf(variable.datasource, datasources, where),
        query,
      });
    }
    for (const annotation of dashboard.annotations?.list ?? []) {
      if (annotation.query === undefined) continue;
      const where = `${file} annotation ${annotation.name}`;
      found.push({
        dashboard: file,
        where,
        language: languageOf(annotation.datasource, datasources, where),
        query: annotation.query,
      });
    }
  }
  return found;
}

/** One alerting or recording rule from deploy/prometheus/rules. */
export interface RuleExpression {
  file: string;
  name: string;
  expr: string;
}

/** Every rule's expression, from every rule file. */
export function ruleExpressions(): RuleExpression[] {
  const found: RuleExpression[] = [];
  for (const file of fs.readdirSync(RULES_DIR).filter((f) => /\.ya?ml$/.test(f))) {
    const doc = YAML.parse(fs.readFileSync(path.join(RULES_DIR, file), 'utf8')) as {
      groups: { rules: { alert?: string; record?: string; expr: string }[] }[];
    };
    for (const group of doc.groups) {
      for (const rule of group.rules) {
        found.push({ file, name: rule.alert ?? rule.record ?? '?', expr: String(rule.expr) });
      }
    }
  }
  return found;
}

const TOP_LEVEL_OPERATORS = /^(==|!=|>=|<=|>|<|\band\b|\bor\b|\bunless\b)/;

/**
 * The operands of an expression's top-level comparison and set operators
 * (`A > 1000 and B > 0` → `A`, `B`), dropping plain numbers. An alert rule
 * returns data only while it fires; its operands are what must return data
 * for the rule to be able to fire at all (the metrics exist and are scraped).
 * Brackets, braces, parentheses and quoted strings are skipped over, so label
 * matchers (`{state="firing"}`) and grouping (`by (topic)`) stay intact.
 */
export function operands(expr: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let quote: string | undefined;
  let start = 0;
  for (let i = 0; i < expr.length; i++) {
    const c = expr[i]!;
    if (quote) {
      if (c === '\\') i++;
      else if (c === quote) quote = undefined;
      continue;
    }
    if (c === '"' || c === "'" || c === '`') quote = c;
    else if ('([{'.includes(c)) depth++;
    else if (')]}'.includes(c)) depth--;
    else if (depth === 0) {
      const match = TOP_LEVEL_OPERATORS.exec(expr.slice(i));
      // A word operator must start a word (`and`, not the end of `brand`).
      const isWord = match !== null && /^[a-z]/.test(match[0]);
      if (match && (!isWord || !/[A-Za-z0-9_:]/.test(expr[i - 1] ?? ' '))) {
        parts.push(expr.slice(start, i));
        i += match[0].length - 1;
        start = i + 1;
      }
    }
  }
  parts.push(expr.slice(start));
  return parts
    .map((p) => p.replace(/^\s*bool\b/, '').trim())
    .filter((p) => p !== '' && !/^[\d.eE+\-*/\s()]+$/.test(p));
}

/** Grafana's PromQL variables, replaced as Grafana would for a short test range. */
export function substitutePromQL(query: string): string {
  return query
    .replaceAll('$__rate_interval', '1m')
    .replaceAll('$__interval', '15s')
    .replaceAll('$__range', '5m');
}

/** Grafana's InfluxQL variables: `$sensor` (regex-escaped, as Grafana does for =~), time filter, interval. */
export function substituteInfluxQL(query: string, variables: { sensor: string }): string {
  const sensor = variables.sensor.replace(/[\\/^$.*+?()[\]{}|-]/g, '\\$&');
  return query
    .replaceAll('$timeFilter', 'time > now() - 1h')
    .replaceAll('$__interval', '1s')
    .replaceAll('$sensor', sensor);
}

/**
 * The deploy/prometheus config with only what a test must change: the tsad
 * target (our metrics server), 1 s intervals so a short run has enough
 * samples, and rule files by name (the harness writes them next to it).
 */
export function deployPrometheusConfig(target: string): {
  configYaml: string;
  ruleFiles: Record<string, string>;
} {
  const config = YAML.parse(fs.readFileSync(PROMETHEUS_YML, 'utf8')) as {
    global: Record<string, unknown>;
    rule_files: string[];
    scrape_configs: { job_name: string; static_configs: { targets: string[] }[] }[];
  };
  config.global['scrape_interval'] = '1s';
  config.global['evaluation_interval'] = '1s';
  const job = config.scrape_configs.find((c) => c.job_name === 'tsad');
  if (!job) throw new Error('deploy/prometheus/prometheus.yml has no scrape job named tsad');
  job.static_configs = [{ targets: [target] }];
  const ruleFiles: Record<string, string> = {};
  for (const file of fs.readdirSync(RULES_DIR).filter((f) => /\.ya?ml$/.test(f))) {
    ruleFiles[file] = fs.readFileSync(path.join(RULES_DIR, file), 'utf8');
  }
  config.rule_files = Object.keys(ruleFiles);
  return { configYaml: YAML.stringify(config), ruleFiles };
}
