// `npm run services:up` / `services:down`: Kafka, InfluxDB and Prometheus for
// development, detached from the command that starts them. Also `status`, and
// `install` (fetch everything the servers need without starting them; CI).
// Addresses go to .tsad/services.env (KEY=value) and stdout; progress to stderr.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureCommand } from './install.ts';
import { ensureKafkaLibs, kafkaLibsDir } from './kafka.ts';
import { pidAlive, stopPid } from './process.ts';
import { SERVICE_ENV_KEYS, type ServiceEnv, startServices } from './stack.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const STATE_DIR = path.join(ROOT, '.tsad');
const ENV_FILE = path.join(STATE_DIR, 'services.env');
const STATE_FILE = path.join(STATE_DIR, 'services.json');
const SERVICES_DIR = path.join(STATE_DIR, 'services');

interface State {
  startedAt: string;
  dir: string;
  env: ServiceEnv;
  processes: { name: string; pid: number; logFile: string }[];
}

function readState(): State | undefined {
  try {
    return JSON.parse(fs.readFileSync(STATE_FILE, 'utf8')) as State;
  } catch {
    return undefined;
  }
}

function envLines(env: ServiceEnv): string {
  return SERVICE_ENV_KEYS.flatMap((key) => (env[key] ? [`${key}=${env[key]}\n`] : [])).join('');
}

async function down(): Promise<void> {
  const state = readState();
  if (state !== undefined) {
    await Promise.all(
      state.processes.map(async (p) => {
        await stopPid(p.pid);
        console.error(`stopped ${p.name} (pid ${p.pid})`);
      }),
    );
    console.error(`logs kept in ${state.dir}`);
  } else {
    console.error('no services recorded in .tsad/services.json');
  }
  fs.rmSync(STATE_FILE, { force: true });
  fs.rmSync(ENV_FILE, { force: true });
}

async function up(): Promise<void> {
  const state = readState();
  if (state !== undefined) {
    if (state.processes.every((p) => pidAlive(p.pid))) {
      console.error('services already running (npm run services:down stops them)');
      process.stdout.write(envLines(state.env));
      return;
    }
    console.error('some recorded services have died; restarting all');
    await down();
  }
  fs.rmSync(SERVICES_DIR, { recursive: true, force: true });
  fs.mkdirSync(SERVICES_DIR, { recursive: true });
  const stack = await startServices({
    dir: SERVICES_DIR,
    detached: true,
    env: {},
    log: (line) => console.error(line),
  });
  const newState: State = {
    startedAt: new Date().toISOString(),
    dir: SERVICES_DIR,
    env: stack.env,
    processes: stack.processes.map((p) => ({ name: p.name, pid: p.pid, logFile: p.logFile })),
  };
  fs.writeFileSync(STATE_FILE, `${JSON.stringify(newState, null, 2)}\n`);
  fs.writeFileSync(ENV_FILE, envLines(stack.env));
  console.error(`started in ${JSON.stringify(stack.startMs)} ms; logs in ${SERVICES_DIR}`);
  console.error(`addresses written to ${path.relative(process.cwd(), ENV_FILE) || ENV_FILE}`);
  process.stdout.write(envLines(stack.env));
}

function status(): void {
  const state = readState();
  if (state === undefined) {
    console.log('not running');
    process.exitCode = 1;
    return;
  }
  for (const p of state.processes) {
    console.log(`${p.name}\tpid ${p.pid}\t${pidAlive(p.pid) ? 'running' : 'dead'}\t${p.logFile}`);
  }
  process.stdout.write(envLines(state.env));
}

/** Installs what the servers need (Debian packages as root, Kafka jars via Maven) without starting them. */
function install(): void {
  const log = (line: string) => console.error(line);
  for (const command of ['java', 'mvn', 'influxd', 'prometheus'] as const) {
    console.error(`${command}: ${ensureCommand(command, log)}`);
  }
  const t0 = performance.now();
  ensureKafkaLibs(log);
  console.error(`Kafka jars: ${kafkaLibsDir()} (${Math.round(performance.now() - t0)} ms)`);
}

const command = process.argv[2];
try {
  if (command === 'up') await up();
  else if (command === 'down') await down();
  else if (command === 'status') status();
  else if (command === 'install') install();
  else {
    console.error('usage: services-cli.ts up|down|status|install');
    process.exitCode = 2;
  }
} catch (error) {
  console.error(error instanceof Error ? error.message : error);
  process.exitCode = 1;
}
// Detached servers are unref'd; exit now rather than wait on stray client sockets.
process.exit(process.exitCode ?? 0);
