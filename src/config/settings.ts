/**
 * The flat list of settings derived from the schema: one entry per leaf with
 * its dotted path, environment variable, type, default and meaning. The
 * environment reader, the CLI `--set` option, `tsad config print` and the
 * generated docs all use this list, so none of them keeps its own copy.
 */
import { z } from 'zod';
import { configSchema, ENV_ALIASES, SECRET_PATHS } from './schema.ts';

/** What kind of value a setting holds; decides how text (env, --set) is parsed. */
export type SettingKind = 'string' | 'integer' | 'number' | 'boolean' | 'enum' | 'list' | 'record';

/** One leaf of the configuration. */
export interface Setting {
  /** Dotted path, e.g. `kafka.sasl.password`. */
  path: string;
  /** The path as keys. */
  keys: readonly string[];
  /** `TSAD_<SECTION>_<FIELD>` in upper snake case. */
  envVar: string;
  /** Other environment variables that set it (e.g. KAFKA_BROKERS). */
  aliases: readonly string[];
  kind: SettingKind;
  /** For lists: the kind of each item. */
  itemKind?: SettingKind;
  /** Readable type, e.g. `integer ≥ 1`, `one of: a, b`, `list of string`. */
  type: string;
  /** The default, or undefined when the setting is optional without one. */
  defaultValue: unknown;
  description: string;
  secret: boolean;
  /** The leaf's own schema, to validate one value in isolation. */
  schema: z.ZodType;
}

type AnyDef = {
  type: string;
  innerType?: z.ZodType;
  shape?: Record<string, z.ZodType>;
  defaultValue?: unknown;
  element?: z.ZodType;
};

function defOf(schema: z.ZodType): AnyDef {
  return (schema as unknown as { _zod: { def: AnyDef } })._zod.def;
}

function descriptionOf(schema: z.ZodType): string | undefined {
  return z.globalRegistry.get(schema)?.description ?? schema.description;
}

/** Upper snake case of a camelCase key: `heartbeatIntervalMs` → `HEARTBEAT_INTERVAL_MS`. */
export function upperSnake(key: string): string {
  return key.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase();
}

function kindOf(schema: z.ZodType): SettingKind {
  switch (defOf(schema).type) {
    case 'number': {
      const json = z.toJSONSchema(schema, { io: 'input' }) as { type?: string };
      return json.type === 'integer' ? 'integer' : 'number';
    }
    case 'boolean':
      return 'boolean';
    case 'enum':
      return 'enum';
    case 'array':
      return 'list';
    case 'record':
      return 'record';
    default:
      return 'string';
  }
}

function describeType(schema: z.ZodType): string {
  const json = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as Record<
    string,
    unknown
  >;
  return describeJson(json);
}

function describeJson(json: Record<string, unknown>): string {
  if (Array.isArray(json['enum'])) return `one of: ${json['enum'].join(', ')}`;
  const type = String(json['type'] ?? 'any');
  if (type === 'array') {
    const items = describeJson((json['items'] ?? {}) as Record<string, unknown>);
    const min = typeof json['minItems'] === 'number' ? ` (at least ${json['minItems']})` : '';
    return `list of ${items}${min}`;
  }
  if (type === 'object') {
    const values = describeJson((json['additionalProperties'] ?? {}) as Record<string, unknown>);
    return `map of name → ${values}`;
  }
  const bounds: string[] = [];
  const max = json['maximum'];
  if (typeof json['minimum'] === 'number' && json['minimum'] > -Number.MAX_SAFE_INTEGER)
    bounds.push(`≥ ${json['minimum']}`);
  if (typeof json['exclusiveMinimum'] === 'number') bounds.push(`> ${json['exclusiveMinimum']}`);
  if (typeof max === 'number' && max < Number.MAX_SAFE_INTEGER) bounds.push(`≤ ${max}`);
  if (typeof json['exclusiveMaximum'] === 'number') bounds.push(`< ${json['exclusiveMaximum']}`);
  if (json['format'] === 'uri') return 'URL';
  return bounds.length === 0 ? type : `${type} ${bounds.join(', ')}`;
}

function collect(schema: z.ZodType, keys: string[], out: Setting[]): void {
  let node = schema;
  let defaultValue: unknown;
  let description = descriptionOf(node);
  for (;;) {
    const def = defOf(node);
    if (def.type === 'default') defaultValue = structuredClone(def.defaultValue);
    if (def.type !== 'default' && def.type !== 'prefault' && def.type !== 'optional') break;
    node = def.innerType as z.ZodType;
    description ??= descriptionOf(node);
  }
  const def = defOf(node);
  if (def.type === 'object' && def.shape !== undefined) {
    for (const [key, child] of Object.entries(def.shape)) collect(child, [...keys, key], out);
    return;
  }
  const path = keys.join('.');
  const kind = kindOf(node);
  const setting: Setting = {
    path,
    keys,
    envVar: `TSAD_${keys.map(upperSnake).join('_')}`,
    aliases: Object.entries(ENV_ALIASES)
      .filter(([, target]) => target === path)
      .map(([name]) => name),
    kind,
    type: describeType(node),
    defaultValue,
    description: description ?? '',
    secret: SECRET_PATHS.includes(path),
    schema: node,
  };
  if (kind === 'list' && def.element !== undefined) setting.itemKind = kindOf(def.element);
  out.push(setting);
}

/** Every setting, in schema order. */
export const SETTINGS: readonly Setting[] = (() => {
  const out: Setting[] = [];
  collect(configSchema, [], out);
  return Object.freeze(out);
})();

const byPath = new Map(SETTINGS.map((s) => [s.path, s]));

/** The setting at a dotted path, or undefined. */
export function settingAt(path: string): Setting | undefined {
  return byPath.get(path);
}

/** The keys an object at `keys` may hold (for "did you mean" on unknown keys). */
export function knownKeysAt(keys: readonly (string | number)[]): string[] {
  const prefix = keys.join('.');
  const names = new Set<string>();
  for (const s of SETTINGS) {
    if (prefix === '' || s.path.startsWith(`${prefix}.`)) {
      const next = s.keys[keys.length];
      if (next !== undefined) names.add(next);
    }
  }
  return [...names];
}

/**
 * Parses the text of an environment variable or `--set` value for a setting:
 * numbers and booleans from their spelling, lists split on commas, records as
 * JSON. Text that does not parse is returned unchanged so that validation
 * reports it with the expected type instead of failing here.
 */
export function parseSettingText(setting: Setting, text: string): unknown {
  switch (setting.kind) {
    case 'integer':
    case 'number':
      return parseNumber(text);
    case 'boolean':
      return parseBoolean(text);
    case 'list': {
      const trimmed = text.trim();
      // A JSON array; text that only starts like one ("[::1]:9092") is split like any other.
      const json = trimmed.startsWith('[') ? parseJson(trimmed) : undefined;
      if (Array.isArray(json)) return json;
      const items = trimmed === '' ? [] : trimmed.split(',').map((item) => item.trim());
      return setting.itemKind === 'integer' || setting.itemKind === 'number'
        ? items.map(parseNumber)
        : items;
    }
    case 'record':
      return parseJson(text);
    default:
      return text;
  }
}

function parseNumber(text: string): number | string {
  const trimmed = text.trim();
  if (trimmed === '') return text;
  const value = Number(trimmed);
  return Number.isNaN(value) ? text : value;
}

function parseBoolean(text: string): boolean | string {
  const lower = text.trim().toLowerCase();
  if (['true', '1', 'yes', 'on'].includes(lower)) return true;
  if (['false', '0', 'no', 'off'].includes(lower)) return false;
  return text;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
