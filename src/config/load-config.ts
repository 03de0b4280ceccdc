/**
 * Builds the effective configuration from its sources, each overriding the
 * previous: schema defaults, the YAML file, environment variables, flags.
 * Everything is validated in one pass and every problem is reported at once
 * with its path, the value, where the value came from and what was expected
 * (as fastify's `lib/initial-config-validation.js` does); the result is
 * deep-frozen so no part of the daemon can change another's settings.
 *
 * This is the only module of tsad that reads `process.env`, and only as the
 * default of `env`; everything else gets the Config or the env passed in.
 */
import fs from 'node:fs';
import { parseDocument } from 'yaml';
import { z } from 'zod';
import { TsadError } from '../errors.ts';
import { CROSS_FIELD_RULES } from './rules.ts';
import { type Config, type ConfigInput, configSchema, ENV_ALIASES } from './schema.ts';
import { knownKeysAt, parseSettingText, SETTINGS, type Setting, settingAt } from './settings.ts';

/** Where loadConfig takes its settings from. */
export interface LoadConfigOptions {
  /** Path of a YAML config file (`--config`). Default: `TSAD_CONFIG` from `env`, else none. */
  configFile?: string | undefined;
  /** Environment variables. Default: process.env. */
  env?: Readonly<Record<string, string | undefined>>;
  /** Settings from command-line flags, nested like the file (`{ window: { size: 64 } }`). */
  flags?: Record<string, unknown> | undefined;
}

/** One thing wrong with the configuration. */
export interface ConfigProblem {
  /** Dotted path of the setting (or of the unknown key). */
  path: string;
  /** The offending value (masked if secret), or undefined for a missing one. */
  value: unknown;
  /** Where the value came from: `default`, `file <path>`, `env <NAME>`, `flag`. */
  source: string;
  /** What was expected, or what is wrong. */
  message: string;
}

type Tree = Record<string, unknown>;

/** Loads, validates and freezes the configuration; throws TSAD_ERR_CONFIG_INVALID listing every problem. */
export function loadConfig(options: LoadConfigOptions = {}): Config {
  const result = resolveConfig(options);
  if (result.problems.length > 0) throw configError(result.problems);
  return result.config as Config;
}

/**
 * Like loadConfig but returns the problems instead of throwing, for tools
 * that want to show them differently (and for tests).
 */
export function resolveConfig(options: LoadConfigOptions = {}): {
  config: Config | undefined;
  problems: ConfigProblem[];
} {
  const env = options.env ?? process.env;
  const sources = new Map<string, string>();
  const problems: ConfigProblem[] = [];
  let merged: Tree = {};

  const configFile = options.configFile ?? nonEmpty(env['TSAD_CONFIG']);
  if (configFile !== undefined) {
    const file = readConfigFile(configFile);
    merged = mergeInto(merged, file, [], sources, `file ${configFile}`);
  }
  const fromEnv = readEnv(env, problems);
  for (const { path, value, name } of fromEnv) {
    merged = mergeInto(merged, nest(path, value), [], sources, `env ${name}`);
  }
  if (options.flags !== undefined) {
    merged = mergeInto(merged, options.flags, [], sources, 'flag');
  }

  const sourceOf = (path: string): string => sources.get(path) ?? 'default';

  const parsed = configSchema.safeParse(merged);
  if (!parsed.success)
    problems.push(
      ...parsed.error.issues.flatMap((i) => describeIssue(i, merged, sourceOf, knownKeysAt)),
    );
  problems.push(...checkRules(merged, sourceOf));
  if (problems.length > 0 || !parsed.success) return { config: undefined, problems };

  const data = parsed.data;
  // Rebuilt in schema order so that the derived dead-letter topic prints in its place.
  const kafka = Object.fromEntries(
    Object.keys(configSchema.unwrap().shape.kafka.unwrap().shape).map((key) => [
      key,
      key === 'deadLetterTopic'
        ? (data.kafka.deadLetterTopic ?? `${data.kafka.inputTopic}.dlq`)
        : data.kafka[key as keyof typeof data.kafka],
    ]),
  );
  const config = { ...data, kafka };
  return { config: deepFreeze(config) as unknown as Config, problems: [] };
}

/**
 * Every problem of `tree` (read from `source`, e.g. `file x.yaml`) against a
 * strict zod schema other than the daemon's, such as the backtest's, described
 * as loadConfig describes the daemon's: path, value, source, what was expected,
 * and "did you mean" for an unknown key. Empty when `tree` is valid. Throw
 * them with configError. The schema's paths must not be daemon settings' (whose
 * wording and masking would apply).
 */
export function schemaProblems(schema: z.ZodType, tree: unknown, source: string): ConfigProblem[] {
  const parsed = schema.safeParse(tree);
  if (parsed.success) return [];
  return parsed.error.issues.flatMap((issue) =>
    describeIssue(
      issue,
      tree,
      () => source,
      (keys) => schemaKeysAt(schema, keys),
    ),
  );
}

/** The keys an object at `keys` in `schema` may hold, through optional, nullable and union wrappers. */
function schemaKeysAt(schema: z.ZodType, keys: readonly (string | number)[]): string[] {
  const objects = (node: unknown): z.ZodObject[] => {
    if (node instanceof z.ZodObject) return [node];
    if (node instanceof z.ZodUnion) return (node.options as unknown[]).flatMap(objects);
    if (node instanceof z.ZodOptional || node instanceof z.ZodNullable)
      return objects(node.unwrap());
    return [];
  };
  let level = objects(schema);
  for (const key of keys) {
    level = level.flatMap((o) => (String(key) in o.shape ? objects(o.shape[String(key)]) : []));
  }
  return [...new Set(level.flatMap((o) => Object.keys(o.shape)))];
}

/** The TsadError for a list of problems: one line per problem, all of them. */
export function configError(problems: readonly ConfigProblem[]): TsadError {
  const lines = problems.map((p) => `  - ${formatProblem(p)}`);
  const count = problems.length === 1 ? '1 problem' : `${problems.length} problems`;
  return new TsadError(
    'TSAD_ERR_CONFIG_INVALID',
    `invalid configuration (${count}):\n${lines.join('\n')}`,
  );
}

function formatProblem(p: ConfigProblem): string {
  const value = p.value === undefined ? '' : ` = ${preview(p.value)}`;
  const source = p.source === 'default' ? '' : ` (from ${p.source})`;
  return `${p.path || '(root)'}${value}${source}: ${p.message}`;
}

function preview(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value;
}

function readConfigFile(file: string): Tree {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'not found' : String(error);
    throw new TsadError('TSAD_ERR_CONFIG_INVALID', `config file ${file}: ${reason}`, {
      cause: error,
    });
  }
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) {
    const messages = doc.errors.map((e) => `  - ${e.message.split('\n')[0]}`);
    throw new TsadError(
      'TSAD_ERR_CONFIG_INVALID',
      `config file ${file} is not valid YAML:\n${messages.join('\n')}`,
    );
  }
  const value: unknown = doc.toJS();
  if (value === null || value === undefined) return {};
  if (!isTree(value)) {
    throw new TsadError(
      'TSAD_ERR_CONFIG_INVALID',
      `config file ${file}: expected a mapping of sections (kafka:, window:, ...), got ${Array.isArray(value) ? 'a list' : typeof value}`,
    );
  }
  return value;
}

/**
 * Reads every TSAD_<PATH> variable (and the aliases such as KAFKA_BROKERS).
 * A TSAD_ variable that starts like a section but names no setting is a typo
 * and reported; others (TSAD_CACHE_DIR, ...) belong to other tools and are left alone.
 */
function readEnv(
  env: Readonly<Record<string, string | undefined>>,
  problems: ConfigProblem[],
): { path: string; value: unknown; name: string }[] {
  const out: { path: string; value: unknown; name: string }[] = [];
  for (const [alias, path] of Object.entries(ENV_ALIASES)) {
    const text = nonEmpty(env[alias]);
    const setting = settingAt(path);
    if (text === undefined || setting === undefined || nonEmpty(env[setting.envVar]) !== undefined)
      continue;
    out.push({ path, value: parseSettingText(setting, text), name: alias });
  }
  const byEnv = new Map(SETTINGS.map((s) => [s.envVar, s]));
  const sections = new Set(SETTINGS.map((s) => `TSAD_${s.envVar.split('_')[1]}_`));
  for (const [name, raw] of Object.entries(env)) {
    if (!name.startsWith('TSAD_')) continue;
    const text = nonEmpty(raw);
    const setting = byEnv.get(name);
    if (setting !== undefined) {
      if (text !== undefined)
        out.push({ path: setting.path, value: parseSettingText(setting, text), name });
      continue;
    }
    if ([...sections].some((prefix) => name.startsWith(prefix))) {
      const guess = closest(name, [...byEnv.keys()]);
      problems.push({
        path: name,
        value: raw,
        source: `env ${name}`,
        message: `unknown environment variable${guess === undefined ? '' : `; did you mean ${guess}?`}`,
      });
    }
  }
  return out;
}

function nest(path: string, value: unknown): Tree {
  const keys = path.split('.');
  let tree: unknown = value;
  for (let i = keys.length - 1; i >= 0; i--) tree = { [keys[i] as string]: tree };
  return tree as Tree;
}

function isTree(value: unknown): value is Tree {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Deep-merges `source` over `target` (objects merge, everything else replaces)
 * and records which source set each path. Records are leaves of the schema
 * but merge key by key, which is what a user overriding one parameter expects.
 */
function mergeInto(
  target: Tree,
  source: Tree,
  keys: string[],
  sources: Map<string, string>,
  label: string,
): Tree {
  const out: Tree = { ...target };
  for (const [key, value] of Object.entries(source)) {
    if (value === undefined) continue;
    const path = [...keys, key];
    const current = out[key];
    if (isTree(value) && isTree(current)) {
      out[key] = mergeInto(current, value, path, sources, label);
    } else {
      out[key] = isTree(value) ? mergeInto({}, value, path, sources, label) : value;
    }
    sources.set(path.join('.'), label);
  }
  return out;
}

function valueAt(tree: unknown, keys: readonly PropertyKey[]): unknown {
  let node = tree;
  for (const key of keys) {
    if (!isTree(node) && !Array.isArray(node)) return undefined;
    node = (node as Record<PropertyKey, unknown>)[key];
  }
  return node;
}

function masked(path: string, value: unknown): unknown {
  return settingAt(path)?.secret === true && value !== undefined ? '***' : value;
}

function describeIssue(
  issue: z.core.$ZodIssue,
  merged: unknown,
  sourceOf: (path: string) => string,
  knownKeys: (keys: string[]) => string[],
): ConfigProblem[] {
  const path = issue.path.map(String).join('.');
  if (issue.code === 'unrecognized_keys') {
    const known = knownKeys(issue.path.map(String));
    return issue.keys.map((key) => {
      const full = path === '' ? key : `${path}.${key}`;
      const guess = closest(key, known);
      const where = path === '' ? 'section' : `setting in ${path}`;
      return {
        path: full,
        value: undefined,
        source: sourceOf(full),
        message: `unknown ${where}${guess === undefined ? '' : `; did you mean "${guess}"?`}`,
      };
    });
  }
  const leafPath = settingPathOf(issue.path.map(String));
  const value = valueAt(merged, issue.path);
  return [
    {
      path,
      value: masked(leafPath, value),
      source: sourceOf(leafPath),
      message: explain(issue, value, leafPath),
    },
  ];
}

/** The setting path an issue path belongs to (an issue may point inside a list). */
function settingPathOf(keys: string[]): string {
  for (let n = keys.length; n > 0; n--) {
    const path = keys.slice(0, n).join('.');
    if (settingAt(path) !== undefined) return path;
  }
  return keys.join('.');
}

function explain(issue: z.core.$ZodIssue, value: unknown, leafPath: string): string {
  const setting = settingAt(leafPath);
  switch (issue.code) {
    case 'invalid_type': {
      if (issue.expected === 'object')
        return `expected a mapping of settings, got ${kindOfValue(value)}`;
      const isItem = setting !== undefined && issue.path.length > setting.keys.length;
      const want = setting === undefined || isItem ? issue.expected : setting.type;
      return `expected ${want}, got ${kindOfValue(value)}`;
    }
    case 'invalid_value':
      return `expected one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}`;
    case 'invalid_union':
      // A discriminated union's tag (a threshold's `method`) names its choices.
      if (issue.discriminator !== undefined && 'options' in issue && issue.options !== undefined)
        return `expected one of ${issue.options.map((v) => JSON.stringify(v)).join(', ')}`;
      return issue.message;
    case 'too_small':
    case 'too_big': {
      const small = issue.code === 'too_small';
      const bound = small ? issue.minimum : issue.maximum;
      if (issue.origin === 'array') {
        return `must have ${small ? 'at least' : 'at most'} ${bound} item${bound === 1 ? '' : 's'}`;
      }
      if (issue.origin === 'string') {
        return small && bound === 1
          ? 'must not be empty'
          : `length must be ${small ? '≥' : '≤'} ${bound}`;
      }
      const op = small ? (issue.inclusive ? '≥' : '>') : issue.inclusive ? '≤' : '<';
      return `must be ${op} ${bound}`;
    }
    default:
      return issue.message;
  }
}

function kindOfValue(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'number' && !Number.isInteger(value)) return 'a fractional number';
  return `a ${typeof value}`;
}

function checkRules(merged: Tree, sourceOf: (path: string) => string): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  for (const rule of CROSS_FIELD_RULES) {
    const values: unknown[] = [];
    let valid = true;
    for (const path of rule.paths) {
      const setting = settingAt(path);
      if (setting === undefined)
        throw new TsadError('TSAD_ERR_INTERNAL', `rule on unknown ${path}`);
      const given = valueAt(merged, setting.keys);
      const value = given === undefined ? setting.defaultValue : given;
      if (value !== undefined && !setting.schema.safeParse(value).success) valid = false;
      values.push(value);
    }
    if (!valid) continue;
    const message = (rule.check as (...v: unknown[]) => string | undefined)(...values);
    if (message !== undefined) {
      const path = rule.paths[0] as string;
      problems.push({ path, value: masked(path, values[0]), source: sourceOf(path), message });
    }
  }
  return problems;
}

/** The candidate closest to `word` by edit distance, if close enough to be a likely typo. */
export function closest(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Number.POSITIVE_INFINITY;
  for (const candidate of candidates) {
    const distance = editDistance(word.toLowerCase(), candidate.toLowerCase());
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return bestDistance <= Math.max(2, Math.floor(word.length / 4)) ? best : undefined;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      current[j] = Math.min(
        (previous[j] as number) + 1,
        (current[j - 1] as number) + 1,
        (previous[j - 1] as number) + cost,
      );
    }
    previous = current;
  }
  return previous[b.length] as number;
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}

/** The type of the flags object: any subset of the settings, nested like the file. */
export type ConfigFlags = ConfigInput;

/** The setting list, re-exported for tools built on loadConfig. */
export type { Setting };
