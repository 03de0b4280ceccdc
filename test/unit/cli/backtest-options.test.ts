import assert from 'node:assert/strict';
import { test } from 'node:test';
import { tsad } from './run-tsad.ts';

test('backtest refuses --plot and --labels with SKAB (exit 2) instead of ignoring them, before any work', async () => {
  for (const extra of [['--plot'], ['--labels', 'windows.json']]) {
    const run = await tsad(
      'backtest',
      '--benchmark',
      'skab',
      '--input',
      '/nonexistent/skab',
      '--out',
      '/nonexistent/out',
      ...extra,
    );
    assert.equal(run.code, 2, run.stderr);
    assert.match(run.stderr, new RegExp(`${extra[0]} is for --benchmark nab only`));
    assert.equal(run.stdout, '');
  }
});
