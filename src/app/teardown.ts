/**
 * The daemon's teardown: a last-in-first-out stack of named steps run within
 * one total time budget (as Alertmanager's `app/app.go` does). Whatever was
 * started last stops first, so the metrics server, started first, closes
 * last and reports the shutdown to the end. A step that throws is logged and
 * the next one runs; when the budget runs out the remaining steps are
 * abandoned and named, so the process can still exit.
 */

/** What happened to the steps of one teardown. */
export interface TeardownReport {
  completed: string[];
  failed: string[];
  /** Steps not finished when the budget ran out (the one running and those after it). */
  abandoned: string[];
  elapsedMs: number;
}

export interface Teardown {
  /** Adds a step; it will run before every step added earlier. */
  push(name: string, step: () => Promise<void> | void): void;
  /** Runs the steps once (later calls share the first run's promise). */
  run(budgetMs: number): Promise<TeardownReport>;
}

/** Creates an empty teardown stack; `onStep` hears each step's outcome (for logging). */
export function createTeardown(
  onStep: (
    name: string,
    outcome: 'done' | 'failed' | 'abandoned',
    elapsedMs: number,
    detail?: unknown,
  ) => void = () => {},
): Teardown {
  const steps: Array<{ name: string; step: () => Promise<void> | void }> = [];
  let running: Promise<TeardownReport> | undefined;

  const runAll = async (budgetMs: number): Promise<TeardownReport> => {
    const started = Date.now();
    const report: TeardownReport = { completed: [], failed: [], abandoned: [], elapsedMs: 0 };
    while (steps.length > 0) {
      const { name, step } = steps.pop()!;
      const left = budgetMs - (Date.now() - started);
      if (left <= 0) {
        report.abandoned.push(name);
        onStep(name, 'abandoned', 0);
        continue;
      }
      const stepStarted = Date.now();
      const took = () => Date.now() - stepStarted;
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<'timeout'>((resolve) => {
        timer = setTimeout(() => resolve('timeout'), left);
      });
      try {
        const outcome = await Promise.race([Promise.resolve().then(step), timeout]);
        if (outcome === 'timeout') {
          report.abandoned.push(name);
          onStep(name, 'abandoned', took());
        } else {
          report.completed.push(name);
          onStep(name, 'done', took());
        }
      } catch (error) {
        report.failed.push(name);
        onStep(name, 'failed', took(), error);
      } finally {
        clearTimeout(timer);
      }
    }
    report.elapsedMs = Date.now() - started;
    return report;
  };

  return {
    push(name, step) {
      if (running) throw new Error(`teardown already running; cannot add "${name}"`);
      steps.push({ name, step });
    },
    run(budgetMs) {
      running ??= runAll(budgetMs);
      return running;
    },
  };
}
