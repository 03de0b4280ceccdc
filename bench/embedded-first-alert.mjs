// Measures the embedded mode: seconds from `tsad run` (no brokers) to the first alert line on
// stdout, whether /metrics answers, and how fast Ctrl-C (SIGINT) stops it with exit code 0.
// Usage: node bench/embedded-first-alert.mjs   (prints one JSON line)
import { spawn } from 'node:child_process';

const started = Date.now();
const child = spawn(process.execPath, ['bin/tsad.mjs', 'run', '--metrics-port', '0'], {
  stdio: ['ignore', 'pipe', 'pipe'],
  env: { ...process.env, KAFKA_BROKERS: '', TSAD_CONFIG: '' },
});
let first,
  url,
  metricsOk = false,
  err = '';
child.stderr.on('data', (d) => {
  err += d;
  const m = /"url":"(http[^"]+)"/.exec(err);
  if (m && !url) url = m[1].replace('0.0.0.0', '127.0.0.1');
});
child.stdout.on('data', async (d) => {
  if (first === undefined) {
    first = (Date.now() - started) / 1000;
    const body = await (await fetch(url)).text();
    metricsOk = body.includes('tsad_windows_scored_total');
    const sigAt = Date.now();
    child.kill('SIGINT');
    child.once('exit', (code) =>
      console.log(
        JSON.stringify({
          firstAlertSeconds: first,
          metricsOk,
          exitCode: code,
          stopSeconds: (Date.now() - sigAt) / 1000,
          firstLine: String(d).split('\n')[0],
        }),
      ),
    );
  }
});
setTimeout(() => {
  if (first === undefined) {
    console.log('no alert in 120 s');
    child.kill('SIGINT');
  }
}, 120000);
