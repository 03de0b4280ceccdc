/**
 * Alerts as readable lines, one per event, for people watching a terminal
 * (the embedded mode prints them on stdout; logs go to stderr, so the two
 * never mix). The line leads with what matters: when, firing or resolved,
 * which sensor, how far over its threshold, and which channel drove it.
 */
import type { AlertEvent } from '../../detector/index.ts';
import type { AlertSink } from '../../stream/ports.ts';

/** One alert event as a single line (no trailing newline). */
export function formatAlertLine(event: AlertEvent): string {
  const top = event.explanation.channels[0];
  const channel = top ? `, mostly ${top.channel} (${Math.round(top.share * 100)}%)` : '';
  const ratio =
    event.threshold > 0 ? `${(event.score / event.threshold).toFixed(1)}× threshold` : '';
  if (event.state === 'firing') {
    return (
      `${event.window.end} FIRING   ${event.sensor}: score ${fmt(event.score)} > threshold ` +
      `${fmt(event.threshold)} (${ratio}${channel}) id=${event.id.slice(0, 12)}`
    );
  }
  return (
    `${event.endedAt ?? event.window.end} RESOLVED ${event.sensor}: firing since ${event.startedAt}, ` +
    `peak score ${fmt(event.peakScore)} id=${event.id.slice(0, 12)}`
  );
}

/**
 * An alert sink writing one line per event to a stream. Resolves once the
 * stream has accepted the lines, so a full pipe slows the pipeline instead of
 * buffering without bound.
 */
export function createStdoutAlertSink(stream: NodeJS.WritableStream): AlertSink<AlertEvent> {
  return {
    send(events) {
      if (events.length === 0) return Promise.resolve();
      const text = `${events.map(formatAlertLine).join('\n')}\n`;
      return new Promise<void>((resolve, reject) => {
        stream.write(text, (error) => (error ? reject(error) : resolve()));
      });
    },
  };
}

function fmt(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  return Math.abs(value) >= 100 || Math.abs(value) < 0.01
    ? value.toExponential(2)
    : value.toFixed(3);
}
