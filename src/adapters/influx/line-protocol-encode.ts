/**
 * Tag values and field keys that InfluxDB 1.x line protocol, as the influx
 * package writes it, cannot carry as they are, and the form they are written
 * in instead (documented in docs/dashboards.md). The package escapes a comma,
 * space and equals sign, and InfluxDB stores every other character as sent
 * (tabs, carriage returns, other control characters, quotes, non-ASCII), except:
 *
 * - a newline ends the line: the point is refused, and what follows the
 *   newline is parsed as a line of its own, which may store a stray point;
 * - a trailing backslash escapes the comma or space after it ("invalid tag
 *   format"); line protocol has no way to write one (a doubled one fails too);
 * - the package turns the first `\'` of a value into `\\'`, which InfluxDB
 *   stores with both backslashes.
 *
 * Checked against influxd 1.6.7 (test/integration/observability/influx-sink.test.ts).
 */

/** What makes a value need encoding: the three cases above, or text that looks encoded already. */
const NEEDS_ENCODING = /\n|\\$|\\'|\\u/;

/**
 * The tag value to write for `value`: the value itself when line protocol
 * carries it faithfully, else the value with every backslash written as
 * `\u005c` and every newline as `\u000a`. A value containing `\u` is encoded
 * too, so two different values never share one stored form: a stored value
 * containing `\u` is encoded, and replacing each `\uXXXX` by its character
 * gives the original back.
 */
export function encodeTagValue(value: string): string {
  if (!NEEDS_ENCODING.test(value)) return value;
  return value.replace(/[\\\n]/g, (c) => (c === '\n' ? '\\u000a' : '\\u005c'));
}

/**
 * The field key to write for a channel name: as encodeTagValue, and `time`,
 * which InfluxDB refuses as a field key (the whole point is dropped), as
 * `\u0074ime`. Undefined for the empty name, which no field key can hold.
 */
export function encodeFieldKey(name: string): string | undefined {
  if (name === '') return undefined;
  if (name === 'time') return '\\u0074ime';
  return encodeTagValue(name);
}
